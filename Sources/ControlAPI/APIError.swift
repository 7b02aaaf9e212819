import LiveGateModel
import ChannelStore
import HTTPTypes
import Hummingbird

/// An error with its HTTP status and docs/contract.md §4 `ec` code. Everything a handler throws ends up as
/// one of these, so every error response has the same envelope.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var ec: Int
    public var message: String
    public var data: JSONValue
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, ec: Int, _ message: String, data: JSONValue = .null, headers: HTTPFields = [:]) {
        self.status = status
        self.ec = ec
        self.message = message
        self.data = data
        self.headers = headers
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, ec: 4000, message) }
    public static let unauthorized = APIError(.unauthorized, ec: 4010, "missing or wrong credentials",
                                              headers: [.wwwAuthenticate: "Basic realm=\"livegate\""])
    public static func limitReached(_ limit: String) -> APIError {
        APIError(.forbidden, ec: 4031, "user limit reached: \(limit)", data: .object(["limit": .string(limit)]))
    }
    public static func notFound(_ what: String) -> APIError { APIError(.notFound, ec: 4040, "\(what) not found") }
    public static func methodNotAllowed(_ allowed: [HTTPRequest.Method]) -> APIError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(.methodNotAllowed, ec: 4050, "method not allowed; allowed: \(allow)", headers: [.allow: allow])
    }
    public static let payloadTooLarge = APIError(.contentTooLarge, ec: 4130, "request body is larger than 64 KiB")
    /// 422 naming each offending field.
    public static func invalid(_ fields: [String: String]) -> APIError {
        APIError(.unprocessableContent, ec: 4220, "invalid parameters: " + fields.keys.sorted().joined(separator: ", "),
                 data: .object(["fields": .object(fields.mapValues { .string($0) })]))
    }
    public static let internalError = APIError(.internalServerError, ec: 5000, "internal error")
    /// The store cannot be reached (an outage, e.g. PostgreSQL restarting): retry shortly.
    public static let storeUnavailable = APIError(.serviceUnavailable, ec: 5030, "the store is unavailable; retry shortly",
                                                  headers: [.retryAfter: "2"])
}
