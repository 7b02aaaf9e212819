import LiveGateModel
import ChannelStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// What every list shares beyond `limit`: `order=asc|desc`, and cursors bound to the query
/// that made them (docs/api.md, "Lists").
///
/// A `nextCursor` ends in a fingerprint of the request's path and filters (every query
/// parameter but `cursor` and `limit`). A cursor brought to another query — another filter,
/// another order, another channel's sessions — is 400 naming `cursor`, where it used to page
/// silently through the wrong list (often to `[]`).
extension ControlAPI {
    /// The fingerprint of a list request: its path and its query but `cursor` and `limit`.
    static func listFingerprint(_ request: Request) -> String {
        var items = request.uri.queryParameters.filter { $0.key != "cursor" && $0.key != "limit" }.map { "\($0.key)=\($0.value)" }
        items.sort()
        let text = request.uri.path + "?" + items.joined(separator: "&")
        return Hex.lowercase(SHA256.hash(data: Data(text.utf8)).prefix(4))
    }

    func boundCursor(_ request: Request, _ context: APIRequestContext, run: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        let fingerprint = Self.listFingerprint(request)
        var request = request
        if let cursor = request.uri.queryParameters.get("cursor"), let dot = cursor.firstIndex(of: ".") {
            guard cursor[cursor.index(after: dot)...] == fingerprint else {
                throw APIError(.badRequest, ec: 4000, "this cursor was made for another query (other filters, order or path); list again from the first page",
                               data: .object(["fields": .object(["cursor": .string("was made for another query")])]))
            }
            request = Self.replacingCursor(request, with: String(cursor[..<dot]))
        }
        // The page as the handler made it, without parsing its bytes back.
        let capture = Envelope.DataCapture()
        let response = try await Envelope.$capture.withValue(capture) { try await run(request, context) }
        guard response.status == .ok, let data = try await Self.collect(response, known: capture.last)?.data, case .object(var page) = data else { return response }
        if case .string(let next)? = page["nextCursor"] { page["nextCursor"] = .string(next + "." + fingerprint) }
        var headers = response.headers
        headers[.contentLength] = nil // the body grows by the fingerprint
        return Envelope.response(data: .object(page), headers: headers)
    }

    /// The request with its `cursor` query parameter replaced (what the store reads).
    static func replacingCursor(_ request: Request, with cursor: String) -> Request {
        var components = URLComponents()
        components.percentEncodedQuery = request.uri.query
        components.queryItems = (components.queryItems ?? []).map { $0.name == "cursor" ? URLQueryItem(name: "cursor", value: cursor) : $0 }
        var head = request.head
        head.path = request.uri.path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return Request(head: head, body: request.body)
    }
}
