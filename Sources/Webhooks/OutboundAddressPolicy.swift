import LiveGateModel
import Foundation

/// Which addresses a webhook or a forward may reach when private networks are blocked
/// (`webhooks.blockPrivateNetworks`, `forwards.blockPrivateNetworks`): only globally routable
/// unicast. Refused, by range (RFC 6890 and its successors): unspecified, "this network",
/// loopback, RFC 1918 private, carrier-grade NAT (which holds Alibaba's 100.100.100.200
/// metadata), link-local (which holds the 169.254.169.254 metadata service of AWS, GCP and
/// Azure), IETF protocol assignments, documentation and benchmarking ranges, multicast,
/// reserved and broadcast; in IPv6 also unique-local (AWS's fd00:ec2::254 metadata), site- and
/// link-local, discard, Teredo/ORCHID (2001::/23), 6to4, and every form that carries an IPv4
/// address (mapped, compatible, NAT64), judged by the IPv4 address it carries.
public enum OutboundAddressPolicy {
    /// Why `address` (4 or 16 bytes) may not be reached, or nil when it may.
    public static func refusal(_ address: [UInt8]) -> String? {
        if address.count == 4 { return refusalIPv4(address) }
        guard address.count == 16 else { return "not an IP address" }
        let a = address
        if a.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if a[0..<15].allSatisfy({ $0 == 0 }) && a[15] == 1 { return "loopback" }
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xff && a[11] == 0xff {
            return refusalIPv4(Array(a[12..<16])).map { "IPv4-mapped, \($0)" } ?? nil
        }
        if a[0..<12].allSatisfy({ $0 == 0 }) { return "IPv4-compatible (deprecated)" }
        if a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b {
            if a[4..<12].allSatisfy({ $0 == 0 }) { return refusalIPv4(Array(a[12..<16])).map { "NAT64, \($0)" } ?? nil }
            if a[4] == 0 && a[5] == 1 { return "local-use NAT64" }
        }
        if a[0] == 0x01 && a[1] == 0x00 && a[2..<8].allSatisfy({ $0 == 0 }) { return "discard-only" }
        if a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02 { return "IETF protocol assignment (Teredo, ORCHID …)" }
        if a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8 { return "documentation" }
        if a[0] == 0x20 && a[1] == 0x02 { return "6to4" }
        if a[0] & 0xfe == 0xfc { return "unique local (private)" }
        if a[0] == 0xfe && a[1] & 0xc0 == 0x80 { return "link-local" }
        if a[0] == 0xfe && a[1] & 0xc0 == 0xc0 { return "site-local (deprecated)" }
        if a[0] == 0xff { return "multicast" }
        return nil
    }

    static func refusalIPv4(_ a: [UInt8]) -> String? {
        switch (a[0], a[1], a[2]) {
        case (0, _, _): return "\"this network\" (0.0.0.0/8)"
        case (10, _, _): return "private (10.0.0.0/8)"
        case (100, 64...127, _): return "carrier-grade NAT (100.64.0.0/10)"
        case (127, _, _): return "loopback"
        case (169, 254, _): return "link-local (169.254.0.0/16, cloud metadata)"
        case (172, 16...31, _): return "private (172.16.0.0/12)"
        case (192, 0, 0): return "IETF protocol assignment (192.0.0.0/24)"
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): return "documentation"
        case (192, 88, 99): return "6to4 relay anycast"
        case (192, 168, _): return "private (192.168.0.0/16)"
        case (198, 18...19, _): return "benchmarking (198.18.0.0/15)"
        case (224...239, _, _): return "multicast"
        case (240...255, _, _): return "reserved or broadcast"
        default: return nil
        }
    }

    /// The address a host names by itself: an IPv6 literal (brackets allowed), or an IPv4
    /// address in any notation the C library accepts — dotted quad, but also `2130706433`,
    /// `127.1`, `0x7f.1`, `0177.0.0.1` (inet_aton), which resolvers hand on as 127.0.0.1.
    public static func literal(_ rawHost: String) -> [UInt8]? {
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        var v4 = in_addr()
        if inet_aton(host, &v4) != 0 { return withUnsafeBytes(of: &v4.s_addr) { Array($0) } }
        return nil
    }

    public static func format(_ address: [UInt8]) -> String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        var v6 = in6_addr()
        withUnsafeMutableBytes(of: &v6) { $0.copyBytes(from: address.prefix(16)) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
