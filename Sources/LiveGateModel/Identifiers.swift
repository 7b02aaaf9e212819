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
