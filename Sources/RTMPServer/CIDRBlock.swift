import NIOCore

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address): who may speak the PROXY
/// protocol to the RTMP listener (`rtmp.trustedProxies`).
public struct CIDRBlock: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefix: Int

    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let address = try? SocketAddress(ipAddress: String(first), port: 0), let bytes = Self.bytes(address) else { return nil }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...bits).contains(n), parts[1].allSatisfy(\.isNumber) else { return nil }
            prefix = n
        }
        self.bytes = bytes
        self.prefix = prefix
    }

    public var description: String {
        let address = bytes.count == 4 ? bytes.map(String.init).joined(separator: ".")
            : (0..<8).map { String(Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]), radix: 16) }.joined(separator: ":")
        return "\(address)/\(prefix)"
    }

    /// Whether `address` is in the block (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    public func contains(_ address: SocketAddress) -> Bool {
        guard var other = Self.bytes(address) else { return false }
        if other.count == 16, bytes.count == 4, other[0..<10].allSatisfy({ $0 == 0 }), other[10] == 0xff, other[11] == 0xff { other = Array(other[12...]) }
        guard other.count == bytes.count else { return false }
        var remaining = prefix
        for i in 0..<bytes.count where remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xff : ~(0xff >> UInt8(take))
            if bytes[i] & mask != other[i] & mask { return false }
            remaining -= take
        }
        return true
    }

    static func bytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let a): return withUnsafeBytes(of: a.address.sin_addr.s_addr) { Array($0) }
        case .v6(let a): return withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
        default: return nil
        }
    }

}
