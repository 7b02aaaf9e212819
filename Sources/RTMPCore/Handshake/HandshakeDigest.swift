import Crypto

/// The digest ("complex", FP9) handshake's keys and HMAC placement.
///
/// A digest is HMAC-SHA256 over the 1536-byte packet minus the 32 digest bytes. Where the
/// digest sits depends on the scheme: scheme 0 puts the offset-deciding bytes at 8 (Flash
/// Player 9 and ffmpeg's default), scheme 1 at 772. Servers answer in the scheme the client used.
public enum HandshakeDigest {
    public static let packetSize = 1536
    public static let digestSize = 32

    /// The 32 bytes that follow the ASCII preambles in both the player and the server key.
    static let keyTail: [UInt8] = [
        0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
        0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
    ]
    /// "Genuine Adobe Flash Player 001" + tail (62 bytes); C1 digests use the first 30.
    public static let playerKey: [UInt8] = Array("Genuine Adobe Flash Player 001".utf8) + keyTail
    /// "Genuine Adobe Flash Media Server 001" + tail (68 bytes); S1 digests use the first 36.
    public static let serverKey: [UInt8] = Array("Genuine Adobe Flash Media Server 001".utf8) + keyTail

    public enum Scheme: Int, Sendable, CaseIterable {
        /// Offset bytes at 8, digest within 12..<740.
        case scheme0 = 0
        /// Offset bytes at 772, digest within 776..<1504.
        case scheme1 = 1

        var base: Int { self == .scheme0 ? 8 : 772 }
    }

    /// Where the 32 digest bytes start inside `packet` for `scheme` (always in bounds).
    public static func digestOffset(in packet: [UInt8], scheme: Scheme) -> Int {
        let b = scheme.base
        let sum = Int(packet[b]) + Int(packet[b + 1]) + Int(packet[b + 2]) + Int(packet[b + 3])
        return sum % 728 + b + 4
    }

    /// HMAC-SHA256 over the packet with the digest bytes at `offset` left out.
    public static func digest(of packet: [UInt8], excludingAt offset: Int, key: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        hmac.update(data: packet[0..<offset])
        hmac.update(data: packet[(offset + digestSize)...])
        return Array(hmac.finalize())
    }

    public static func hmac(_ data: some Sequence<UInt8>, key: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key))
        hmac.update(data: Array(data))
        return Array(hmac.finalize())
    }

    /// Finds which scheme's digest in `packet` verifies with `key`, if any.
    public static func validate(_ packet: [UInt8], key: [UInt8]) -> (scheme: Scheme, digest: [UInt8])? {
        guard packet.count == packetSize else { return nil }
        for scheme in Scheme.allCases {
            let offset = digestOffset(in: packet, scheme: scheme)
            let expected = digest(of: packet, excludingAt: offset, key: key)
            if constantTimeEqual(expected, packet[offset..<(offset + digestSize)]) {
                return (scheme, expected)
            }
        }
        return nil
    }

    /// Writes a digest into `packet` in place for `scheme` and returns it.
    @discardableResult
    public static func imprint(_ packet: inout [UInt8], scheme: Scheme, key: [UInt8]) -> [UInt8] {
        let offset = digestOffset(in: packet, scheme: scheme)
        let d = digest(of: packet, excludingAt: offset, key: key)
        packet.replaceSubrange(offset..<(offset + digestSize), with: d)
        return d
    }

    /// The last 32 bytes of S2 (or C2): HMAC over the first 1504 bytes, keyed by
    /// HMAC(fullKey, peerDigest).
    public static func responseSignature(for packet: ArraySlice<UInt8>, peerDigest: [UInt8], fullKey: [UInt8]) -> [UInt8] {
        let key = hmac(peerDigest, key: fullKey)
        return hmac(packet.prefix(packetSize - digestSize), key: key)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}
