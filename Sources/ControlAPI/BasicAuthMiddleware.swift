import ChannelStore
import Crypto
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// HTTP Basic auth against API tokens. Secrets are stored as SHA-256 hashes (they are
/// high-entropy random values, so a slow hash adds nothing) and compared in constant time.
struct BasicAuthMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let store: any ChannelStore
    let throttle: AuthFailureThrottle
    let tokens: TokenHashCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let ip = context.remoteIP
        if let wait = throttle.retryAfter(ip: ip) {
            throw APIError(.tooManyRequests, ec: 4290, "too many failed authentication attempts; retry later",
                           headers: [.retryAfter: String(wait)])
        }
        var context = context
        do {
            context.grant = try await authenticate(request)
        } catch let error as APIError where error.status == .unauthorized {
            // Only wrong credentials count: a store outage while checking them is no failed login.
            throttle.recordFailure(ip: ip)
            throw error
        }
        return try await next(request, context)
    }

    private func authenticate(_ request: Request) async throws -> TokenGrant {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":")
        else { throw APIError.unauthorized }
        let id = String(text[..<colon])
        let secret = String(text[text.index(after: colon)...])
        guard !id.isEmpty, id.utf8.count <= 256 else { throw APIError.unauthorized }
        let token: APIToken
        if let cached = tokens.token(id: id) {
            token = cached
        } else {
            guard let stored = try await store.token(id: id) else { throw APIError.unauthorized }
            tokens.remember(stored)
            token = stored
        }
        guard Self.constantTimeEquals(Self.hash(secret), token.secretHash) else { throw APIError.unauthorized }
        // `lastUsedAt`, written at most once a minute per token (not a write per request).
        let now = Date()
        if tokens.shouldTouch(id: id, now: now) { try? await store.touchToken(id: id, at: now) }
        return TokenGrant(token)
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
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
