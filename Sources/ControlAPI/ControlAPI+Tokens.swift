import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird

/// API tokens with scopes (docs/contract.md §4) and what a token bound to one user may see.
extension ControlAPI {
    func render(_ t: APIToken, secret: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(t.id), "scopes": .array(t.scopes.map { .string($0) }), "userId": t.userId.map { .string($0) } ?? .null,
            "createdAt": .string(Timestamp.format(t.createdAt)), "lastUsedAt": t.lastUsedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "name": t.name.map { .string($0) } ?? .null, "expiresAt": t.expiresAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
        if let secret { o["secret"] = .string(secret) }
        return .object(o)
    }

    func createToken(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var body = try await BodyReader.read(request)
        body.restrict(to: ["scopes", "userId", "name", "expiresAt"], readOnly: ["id", "secret", "createdAt", "lastUsedAt"])
        let name = body.isNull("name") ? nil : body.string("name", maxLength: 100)
        var expiresAt: Date?
        if !body.isNull("expiresAt"), let raw = body.string("expiresAt", maxLength: 64) {
            if let date = RFC3339.parse(raw) {
                if date <= Date() { body.fail("expiresAt", "must be in the future") } else { expiresAt = Timestamp.parse(Timestamp.format(date)) }
            } else {
                body.fail("expiresAt", "must be an RFC 3339 timestamp")
            }
        }
        let names = body.stringArray("scopes", maxCount: TokenScope.allCases.count, allowed: Set(TokenScope.allCases.map(\.rawValue))) ?? nil
        if names == nil && !body.has("scopes") { body.fail("scopes", "is required") }
        let userId = body.isNull("userId") ? nil : body.userId("userId")
        if let names {
            if names.isEmpty { body.fail("scopes", "must name at least one scope") }
            let scopes = Set(names.compactMap(TokenScope.init(rawValue:)))
            if userId != nil, !scopes.isSubset(of: TokenScope.userBound) {
                body.fail("scopes", "a token bound to a user may hold only " + TokenScope.userBound.map(\.rawValue).sorted().joined(separator: ", "))
            }
        }
        try body.check()
        let secret = Identifiers.tokenSecret()
        let token = APIToken(id: Identifiers.make("tok"), secretHash: BasicAuthMiddleware.hash(secret), scopes: names ?? [], userId: userId,
                             origin: .api, createdAt: Timestamp.parse(Timestamp.format(Date())), name: name, expiresAt: expiresAt)
        try await store.saveToken(token)
        context.logger.info("API token created", metadata: ["token.id": "\(token.id)", "scopes": "\(token.scopes.joined(separator: ","))"])
        return Envelope.response(.created, data: render(token, secret: secret))
    }

    func listTokens(_ request: Request) async throws -> Response {
        let q = QueryReader(request: request)
        return Envelope.response(data: page(try await store.listTokens(limit: try q.limit(), cursor: q.string("cursor"), descending: q.descending(byDefault: false))) { render($0) })
    }

    func getToken(_ context: APIRequestContext) async throws -> Response {
        guard let token = try await store.token(id: try parameter(context, "id")) else { throw APIError.notFound("token") }
        return Envelope.response(data: render(token))
    }

    /// The token of `api.tokenId`/`LIVE_TOKEN_ID` belongs to the configuration: revoked here it
    /// would lock the operator out until the next start brings it back. 409; change the
    /// configuration instead.
    func deleteToken(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        if let token = try await store.token(id: id), token.origin == .configured {
            throw APIError(.conflict, ec: 4090, "this token comes from the configuration (api.tokenId); change or remove it there")
        }
        guard try await store.deleteToken(id: id) else { throw APIError.notFound("token") }
        tokenCache.forget(id: id)
        context.logger.info("API token revoked", metadata: ["token.id": "\(id)"])
        return Envelope.noContent()
    }

    /// A token bound to a user reaches only that user's channels, videos and usage: any other
    /// is a 404, as if it did not exist. (Lists are filtered in their handlers.)
    func checkOwner(_ route: APIRoute, _ grant: TokenGrant, _ context: APIRequestContext) async throws {
        guard let bound = grant.userId else { return }
        if route.path.hasPrefix("/v1/users/{userId}") {
            guard try userParameter(context) == bound else { throw APIError.notFound("userId") }
        } else if route.path.hasPrefix("/v1/channels/{id}") {
            guard let channel = try await store.channel(id: try parameter(context, "id")), channel.userId == bound else {
                throw APIError.notFound("channel")
            }
        } else if route.path.hasPrefix("/v1/videos/{id}") {
            guard let video = try await store.video(id: try parameter(context, "id")), video.userId == bound else { throw APIError.notFound("video") }
        }
    }

    /// The user a list is limited to: the token's bound user (a filter for another one finds
    /// nothing), else the `userId` filter asked for.
    func listUser(_ asked: String?, _ context: APIRequestContext) -> (userId: String?, empty: Bool) {
        guard let bound = context.grant?.userId else { return (asked, false) }
        if let asked, asked != bound { return (bound, true) }
        return (bound, false)
    }
}
