import HTTPTypes
import Hummingbird

/// One endpoint. The router, the 405 answers and `/v1/openapi.json` are all built from the same
/// list, so the published document cannot drift from the routes that exist.
struct APIRoute: Sendable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    var method: HTTPRequest.Method
    /// OpenAPI form: `/v1/channels/{id}`.
    var path: String
    var summary: String
    var requiresAuth: Bool
    var successStatus: Int
    var handler: Handler

    init(_ method: HTTPRequest.Method, _ path: String, _ summary: String, auth: Bool = true, status: Int = 200, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.summary = summary
        self.requiresAuth = auth
        self.successStatus = status
        self.handler = handler
    }

    /// Hummingbird form: `/v1/channels/:id`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }

    var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }
}
