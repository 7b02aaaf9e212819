import LiveGateModel
import ChannelStore
import Crypto
import Foundation

/// Signed playback tokens (docs/api.md, "Playback"), as Mux and Cloudflare Stream sign theirs:
/// short-lived, bound to one channel, verifiable without a store write.
///
///     payload = "v1." + keyId + "." + channelId + "." + expiresAt (Unix seconds)
///     token   = base64url(payload) + "." + base64url(HMAC-SHA256(key, payload))
///
/// base64url without padding; `key` is the signing key's secret, base64url-decoded. An App
/// Server holding a key from `/v1/signing-keys` mints tokens with these two lines and no call to
/// LiveGate. A pure function of its inputs: time comes in as `now`.
enum PlaybackToken {
    struct Claims: Equatable {
        var keyId: String
        var channelId: String
        var expiresAt: Int
    }

    /// Why a request may not play: said in the 403 (`data.reason`).
    enum Refusal: String, Equatable {
        case missing = "a playback token is required (query parameter token)"
        case malformed = "the playback token is malformed"
        case unknownKey = "the playback token's signing key does not exist (deleted?)"
        case badSignature = "the playback token's signature does not match"
        case otherChannel = "the playback token is for another channel"
        case expired = "the playback token has expired"
    }

    static func mint(_ claims: Claims, secret: String) -> String? {
        guard let key = base64URLDecode(secret) else { return nil }
        let payload = "v1.\(claims.keyId).\(claims.channelId).\(claims.expiresAt)"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: key))
        return base64URL(Data(payload.utf8)) + "." + base64URL(Data(mac))
    }

    /// The claims a token states (not yet verified).
    static func claims(_ token: String) -> Claims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count <= 512, let payload = base64URLDecode(String(parts[0])),
              let text = String(data: payload, encoding: .utf8) else { return nil }
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == "v1", !fields[1].isEmpty, !fields[2].isEmpty, let expiry = Int(fields[3]) else { return nil }
        return Claims(keyId: String(fields[1]), channelId: String(fields[2]), expiresAt: expiry)
    }

    /// Nil when `token` lets its bearer play `channelId` at `now`.
    static func refusal(_ token: String?, channelId: String, now: Date, key lookup: (String) async throws -> SigningKey?) async throws -> Refusal? {
        guard let token, !token.isEmpty else { return .missing }
        guard let claims = claims(token) else { return .malformed }
        guard let key = try await lookup(claims.keyId) else { return .unknownKey }
        guard let expected = mint(claims, secret: key.secret), BasicAuthMiddleware.constantTimeEquals(expected, token) else { return .badSignature }
        guard claims.channelId == channelId else { return .otherChannel }
        guard Double(claims.expiresAt) > now.timeIntervalSince1970 else { return .expired }
        return nil
    }

    static func base64URL(_ data: Data) -> String { Identifiers.base64url(Array(data)) }

    static func base64URLDecode(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
