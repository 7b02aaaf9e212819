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
    let tokens = TokenHashCache()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let ip = context.remoteIP
        if let wait = throttle.retryAfter(ip: ip) {
            throw APIError(.tooManyRequests, ec: 4290, "too many failed authentication attempts; retry later",
                           headers: [.retryAfter: String(wait)])
        }
        do {
            try await authenticate(request)
        } catch let error as APIError where error.status == .unauthorized {
            // Only wrong credentials count: a store outage while checking them is no failed login.
            throttle.recordFailure(ip: ip)
            throw error
        }
        return try await next(request, context)
    }

    private func authenticate(_ request: Request) async throws {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":")
        else { throw APIError.unauthorized }
        let id = String(text[..<colon])
        let secret = String(text[text.index(after: colon)...])
        guard !id.isEmpty, id.utf8.count <= 256 else { throw APIError.unauthorized }
        let stored: String?
        if let cached = tokens.hash(id: id) {
            stored = cached
        } else {
            stored = try await store.tokenSecretHash(id: id)
            if let stored { tokens.remember(id: id, hash: stored) }
        }
        guard let stored, Self.constantTimeEquals(Self.hash(secret), stored) else { throw APIError.unauthorized }
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

/// Known token hashes, kept briefly so an authenticated request costs no store round trip
/// (`wrk` on `GET /v1/channels/{id}` doubled with it). Tokens are written only at start-up;
/// a removed token would stop working within `ttl`. Unknown ids are never cached (and are
/// throttled per IP).
final class TokenHashCache: Sendable {
    static let ttl: TimeInterval = 10
    static let capacity = 1024
    private let entries = NIOLockedValueBox([String: (hash: String, until: Date)]())

    func hash(id: String) -> String? {
        entries.withLockedValue { table in
            guard let entry = table[id], entry.until > Date() else { return nil }
            return entry.hash
        }
    }

    func remember(id: String, hash: String) {
        entries.withLockedValue { table in
            if table.count >= Self.capacity { table.removeAll() }
            table[id] = (hash, Date().addingTimeInterval(Self.ttl))
        }
    }
}
