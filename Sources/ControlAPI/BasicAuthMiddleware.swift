import LiveGateModel
import ChannelStore
import Crypto
import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// HTTP Basic auth against API tokens. Secrets are stored as SHA-256 hashes (they are
/// high-entropy random values, so a slow hash adds nothing) and compared in constant time.
struct BasicAuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let store: any ChannelStore
    let throttle: AuthFailureThrottle
    let tokens: TokenHashCache
    /// `http.trustedProxies`: peers whose `X-Forwarded-For` names the client.
    let trustedProxy: @Sendable (SocketAddress) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let presented = Self.credentials(request)
        do {
            context.grant = try await authenticate(presented)
        } catch let error as APIError where error.status == .unauthorized {
            // Only wrong credentials count: a store outage while checking them is no failed login.
            // Correct credentials never get here, however many failures their address has.
            // A request with no credentials guesses nothing: a plain 401, never counted.
            guard let presented else { throw error }
            let ip = ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers, trusted: trustedProxy)
            switch throttle.fail(ip: ip, tokenId: presented.id) {
            case .rejected:
                throw error
            case .throttled(let seconds, let burstBegan):
                if burstBegan {
                    context.logger.warning("failed API logins throttled", metadata: [
                        "client": "\(ip)", "token.id": "\(String(presented.id.prefix(64)))", "retry.after": "\(seconds)",
                    ])
                }
                throw APIError(.tooManyRequests, ec: 4290, "too many failed authentication attempts from this address or for this token; retry later",
                               headers: [.retryAfter: String(seconds)])
            }
        }
        return try await next(request, context)
    }

    /// The token id and secret of a Basic `Authorization` header, nil when it holds none.
    static func credentials(_ request: Request) -> (id: String, secret: String)? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    private func authenticate(_ presented: (id: String, secret: String)?) async throws -> TokenGrant {
        guard let (id, secret) = presented, !id.isEmpty, id.utf8.count <= 256 else { throw APIError.unauthorized }
        let token: APIToken
        if let cached = tokens.token(id: id) {
            token = cached
        } else {
            guard let stored = try await store.token(id: id) else { throw APIError.unauthorized }
            tokens.remember(stored)
            token = stored
        }
        guard Self.constantTimeEquals(Self.hash(secret), token.secretHash) else { throw APIError.unauthorized }
        if let expiresAt = token.expiresAt, expiresAt <= Date() {
            // Said only to whoever holds the secret: the id alone learns nothing.
            var expired = APIError.unauthorized
            expired.message = "this token expired at \(Timestamp.format(expiresAt)); create a new one"
            expired.data = .object(["expiredAt": .string(Timestamp.format(expiresAt))])
            throw expired
        }
        // `lastUsedAt`, written at most once a minute per token (not a write per request).
        let now = Date()
        if tokens.shouldTouch(id: id, now: now) { try? await store.touchToken(id: id, at: now) }
        return TokenGrant(token)
    }

    static func hash(_ secret: String) -> String {
        Hex.lowercase(SHA256.hash(data: Data(secret.utf8)))
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

public enum APITokens {
    /// The stored form of a token secret.
    public static func hash(_ secret: String) -> String { BasicAuthMiddleware.hash(secret) }
}

/// Known tokens, kept briefly so an authenticated request costs no store round trip (`wrk` on
/// `GET /v1/channels/{id}` doubled with it). A token revoked through this node's API is
/// forgotten at once; one revoked through another node stops working within `ttl`. Unknown ids
/// are never cached (and are throttled per IP).
public final class TokenHashCache: Sendable {
    static let ttl: TimeInterval = 10
    static let capacity = 1024
    static let touchEvery: TimeInterval = 60
    private let entries = NIOLockedValueBox([String: (token: APIToken, until: Date)]())
    private let touched = NIOLockedValueBox([String: Date]())

    public init() {}

    func token(id: String) -> APIToken? {
        entries.withLockedValue { table in
            guard let entry = table[id], entry.until > Date() else { return nil }
            return entry.token
        }
    }

    func remember(_ token: APIToken) {
        entries.withLockedValue { table in
            if table.count >= Self.capacity { table.removeAll() }
            table[token.id] = (token, Date().addingTimeInterval(Self.ttl))
        }
    }

    func forget(id: String) { _ = entries.withLockedValue { $0.removeValue(forKey: id) } }

    /// True at most once per `touchEvery` per token.
    func shouldTouch(id: String, now: Date) -> Bool {
        touched.withLockedValue { table in
            if let last = table[id], now.timeIntervalSince(last) < Self.touchEvery { return false }
            if table.count >= Self.capacity { table.removeAll() }
            table[id] = now
            return true
        }
    }
}
