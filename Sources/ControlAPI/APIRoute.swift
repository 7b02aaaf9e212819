import LiveGateModel
import HTTPTypes
import Hummingbird

/// One endpoint. The router, the 405 answers and `/v1/openapi.json` are all built from the same
/// list, so the published document cannot drift from the routes that exist.
struct APIRoute: Sendable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    var method: HTTPRequest.Method
    /// OpenAPI form: `/v1/channels/{id}`.
    var path: String
    /// The OpenAPI `operationId`, what a generated client names the call (`createChannel`).
    var operationId: String
    var summary: String
    /// Who may call it (fails closed: `.unbound(.admin)` unless the route says otherwise).
    var access: RouteAccess
    var requiresAuth: Bool { access.requiresAuth }
    var scope: TokenScope? { access.scope }
    var successStatus: Int
    /// The query parameters it takes; any other is refused (400/4000) unless `anyQuery`.
    var query: [QueryParameter]
    /// HLS players add their own query strings (cache busting): those routes take any.
    var anyQuery: Bool
    /// What the OpenAPI document promises for it: body, answer, further statuses, links.
    var contract: OperationContract
    var handler: Handler

    init(_ method: HTTPRequest.Method, _ path: String, operation: String, _ summary: String, access: RouteAccess = .unbound(.admin), status: Int = 200,
         query: [QueryParameter] = [], anyQuery: Bool = false, _ contract: OperationContract, _ handler: @escaping Handler) {
        self.contract = contract
        self.access = access
        self.operationId = operation
        self.query = query
        self.anyQuery = anyQuery
        self.method = method
        self.path = path
        self.summary = summary
        self.successStatus = status
        self.handler = handler
    }

    /// Hummingbird form: `/v1/channels/:id`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }

    /// Refuses query parameters the route does not take, naming them.
    func checkQuery(_ request: Request) throws {
        guard !anyQuery else { return }
        for (key, value) in request.uri.queryParameters where value.containsControlCharacter || key.containsControlCharacter {
            throw APIError.badRequest("query parameter \(String(String(key).unicodeScalars.filter { !$0.isControlCharacter }.prefix(40))) must not contain control characters")
        }
        let known = Set(query.map(\.name))
        var unknown: [String] = []
        for (key, _) in request.uri.queryParameters where !known.contains(String(key)) {
            let name = String(String(key).unicodeScalars.filter { !$0.isControlCharacter }.prefix(40))
            if !unknown.contains(name) { unknown.append(name) }
        }
        if !unknown.isEmpty {
            let takes = query.isEmpty ? "this endpoint takes none" : "this endpoint takes " + query.map(\.name).joined(separator: ", ")
            throw APIError(.badRequest, ec: 4000, "unknown query parameter\(unknown.count > 1 ? "s" : ""): \(unknown.joined(separator: ", ")) (\(takes))",
                           data: .object(["unknownParameters": .array(unknown.map { .string($0) })]))
        }
        for parameter in query {
            let values = request.uri.queryParameters.getAll(parameter.name)
            if values.count > 1 {
                throw APIError(.badRequest, ec: 4000, "query parameter \(parameter.name) is given more than once",
                               data: .object(["fields": .object([parameter.name: .string("is given more than once")])]))
            }
            for value in values {
                if let problem = parameter.problem(value) {
                    throw APIError(.badRequest, ec: 4000, "query parameter \(parameter.name): \(problem)",
                                   data: .object(["fields": .object([parameter.name: .string(problem)])]))
                }
            }
        }
    }

    var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }
}
