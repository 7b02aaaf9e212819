import Foundation

/// Random identifiers and secrets, from the system CSPRNG.
public enum Identifiers {
    public static let base32: [Character] = Array("abcdefghijklmnopqrstuvwxyz234567")

    public static func randomBytes(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// `prefix_` + 20 base32 characters (100 bits).
    public static func make(_ prefix: String) -> String {
        var g = SystemRandomNumberGenerator()
        return prefix + "_" + String((0..<20).map { _ in base32[Int.random(in: 0..<32, using: &g)] })
    }

    /// `count` random lowercase hexadecimal digits (4 bits each): the tail of session, event
    /// and delivery ids. Once `UUID().uuidString` lowercased with its dashes removed — three
    /// Foundation string passes per id, a visible share of a publish's CPU.
    public static func hex(_ count: Int) -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: count) { out in
            var bits: UInt64 = 0
            for i in 0..<count {
                if i % 16 == 0 { bits = g.next() }
                out[i] = digits[Int(bits & 0xF)]
                bits >>= 4
            }
            return count
        }
    }

    /// A stream key: 32 random bytes (256 bits) as base64url without padding, 43 characters.
    public static func streamKey() -> String { base64url(randomBytes(32)) }

    /// Standard Webhooks secret: `whsec_` + base64 of 32 random bytes.
    public static func webhookSecret() -> String { "whsec_" + Data(randomBytes(32)).base64EncodedString() }

    public static func tokenSecret() -> String { base64url(randomBytes(32)) }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
