import LiveGateModel
import Crypto
import Foundation

/// Standard Webhooks signing: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
/// where the key is the base64-decoded part of the secret after `whsec_`.
public enum WebhookSignature {
    public static func key(fromSecret secret: String) -> Data {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        return Data(base64Encoded: encoded) ?? Data(encoded.utf8)
    }

    public static func sign(secret: String, id: String, timestamp: Int, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(body)".utf8), using: SymmetricKey(data: key(fromSecret: secret)))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` header for several secrets (a rotation's overlap): one `v1,`
    /// signature per secret, space-separated, as Standard Webhooks allows; a receiver that
    /// knows either secret finds its match.
    public static func header(secrets: [String], id: String, timestamp: Int, body: String) -> String {
        secrets.map { sign(secret: $0, id: id, timestamp: timestamp, body: body) }.joined(separator: " ")
    }

    /// What a receiver does: true when any `v1,` signature in the header matches.
    public static func verify(secret: String, id: String, timestamp: Int, body: String, header: String) -> Bool {
        let expected = sign(secret: secret, id: id, timestamp: timestamp, body: body)
        return header.split(separator: " ").contains { candidate in
            let a = Array(candidate.utf8), b = Array(expected.utf8)
            guard a.count == b.count else { return false }
            return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
