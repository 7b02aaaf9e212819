import NIOCore

/// The PROXY protocol header a TCP balancer (HAProxy `send-proxy[-v2]`, an AWS NLB) puts in
/// front of the RTMP bytes, naming the broadcaster's address (haproxy.org proxy-protocol.txt).
/// Parsed here, in the pure protocol module, so the fuzzer and the tests reach it without a
/// socket; `RTMPServer`'s `ProxyProtocolHandler` decides whom to believe.
public struct ProxyProtocolHeader: Sendable, Equatable {
    public enum Version: Sendable, Equatable { case v1, v2 }

    public var version: Version
    /// The broadcaster's address and port; nil for `PROXY UNKNOWN` / a v2 `LOCAL` command (a
    /// health check by the balancer itself), where the TCP peer stands for itself.
    public var source: (address: String, port: Int)?
    public var destination: (address: String, port: Int)?

    public static func == (a: ProxyProtocolHeader, b: ProxyProtocolHeader) -> Bool {
        a.version == b.version && a.source?.address == b.source?.address && a.source?.port == b.source?.port
            && a.destination?.address == b.destination?.address && a.destination?.port == b.destination?.port
    }

    /// v2's 12-byte signature.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// v1 headers are at most 107 bytes, CRLF included.
    public static let v1MaxLength = 107
    /// What a v2 header may carry after its 16 fixed bytes: the addresses and TLVs. Bounded well
    /// below the format's 65,535 so a peer cannot make us buffer much before the RTMP starts.
    public static let v2MaxPayload = 1024

    public enum ParseResult: Sendable, Equatable {
        /// More bytes are needed (none consumed).
        case needMore
        /// A header, and how many bytes it took.
        case header(ProxyProtocolHeader, consumed: Int)
        /// The bytes start with no PROXY header at all (RTMP's C0 is 0x03).
        case absent
        case invalid(String)
    }

    /// Parses the start of `bytes`.
    public static func parse(_ bytes: ByteBufferView) -> ParseResult {
        let b = Array(bytes.prefix(16 + v2MaxPayload))
        guard let first = b.first else { return .needMore }
        if first == 0x0D { return parseV2(b) }
        if first == UInt8(ascii: "P") { return parseV1(b) }
        return .absent
    }

    static func parseV1(_ b: [UInt8]) -> ParseResult {
        let prefix = Array("PROXY ".utf8)
        for (i, c) in prefix.enumerated() where i < b.count && b[i] != c { return i == 0 ? .absent : .invalid("not a PROXY v1 header") }
        guard let lf = b.prefix(v1MaxLength).firstIndex(of: 0x0A) else {
            return b.count >= v1MaxLength ? .invalid("PROXY v1 header longer than 107 bytes") : .needMore
        }
        guard lf > 0, b[lf - 1] == 0x0D else { return .invalid("PROXY v1 header not ended by CRLF") }
        guard let line = String(validating: b[0..<(lf - 1)], as: UTF8.self), line.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) else {
            return .invalid("PROXY v1 header is not printable ASCII")
        }
        let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 2 else { return .invalid("PROXY v1 header without a protocol") }
        if fields[1] == "UNKNOWN" { return .header(ProxyProtocolHeader(version: .v1, source: nil, destination: nil), consumed: lf + 1) }
        guard fields.count == 6, fields[1] == "TCP4" || fields[1] == "TCP6" else {
            return .invalid("PROXY v1 header must be 'PROXY TCP4|TCP6 SRC DST SPORT DPORT' or 'PROXY UNKNOWN'")
        }
        let family = fields[1] == "TCP4" ? 4 : 6
        guard let source = canonical(fields[2], family: family), let destination = canonical(fields[3], family: family) else {
            return .invalid("PROXY v1 header has an address that is not \(fields[1])")
        }
        guard let sport = port(fields[4]), let dport = port(fields[5]) else { return .invalid("PROXY v1 header has an invalid port") }
        return .header(ProxyProtocolHeader(version: .v1, source: (source, sport), destination: (destination, dport)), consumed: lf + 1)
    }

    static func parseV2(_ b: [UInt8]) -> ParseResult {
        for (i, c) in v2Signature.enumerated() where i < b.count && b[i] != c { return .invalid("not a PROXY v2 signature") }
        guard b.count >= 16 else { return .needMore }
        let versionCommand = b[12], family = b[13]
        let length = Int(b[14]) << 8 | Int(b[15])
        guard versionCommand >> 4 == 2 else { return .invalid("PROXY v2 header with version \(versionCommand >> 4)") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { return .invalid("PROXY v2 header with command \(command)") }
        guard length <= v2MaxPayload else { return .invalid("PROXY v2 header of \(length) bytes (at most \(v2MaxPayload) accepted)") }
        guard b.count >= 16 + length else { return .needMore }
        let payload = Array(b[16..<(16 + length)])
        let consumed = 16 + length
        // LOCAL: the balancer's own connection (health check): no addresses to believe.
        if command == 0 { return .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil), consumed: consumed) }
        switch family {
        case 0x11, 0x12: // TCP or UDP over IPv4
            guard payload.count >= 12 else { return .invalid("PROXY v2 IPv4 addresses need 12 bytes, got \(payload.count)") }
            let src = payload[0..<4].map(String.init).joined(separator: "."), dst = payload[4..<8].map(String.init).joined(separator: ".")
            return .header(ProxyProtocolHeader(version: .v2, source: (src, Int(payload[8]) << 8 | Int(payload[9])),
                                               destination: (dst, Int(payload[10]) << 8 | Int(payload[11]))), consumed: consumed)
        case 0x21, 0x22: // over IPv6
            guard payload.count >= 36 else { return .invalid("PROXY v2 IPv6 addresses need 36 bytes, got \(payload.count)") }
            return .header(ProxyProtocolHeader(version: .v2, source: (ipv6(Array(payload[0..<16])), Int(payload[32]) << 8 | Int(payload[33])),
                                               destination: (ipv6(Array(payload[16..<32])), Int(payload[34]) << 8 | Int(payload[35]))),
                           consumed: consumed)
        case 0x00:
            return .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil), consumed: consumed)
        default:
            return .invalid(String(format: "PROXY v2 header with address family 0x%02x (only TCP over IPv4/IPv6 is proxied)", family))
        }
    }

    static func port(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ (48...57).contains($0) }), !(text.count > 1 && text.hasPrefix("0")),
              let n = Int(text), (0...65535).contains(n) else { return nil }
        return n
    }

    /// The address in its canonical text form, when `text` is one of `family`.
    static func canonical(_ text: String, family: Int) -> String? {
        guard let address = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        switch (address, family) {
        case (.v4, 4):
            // inet_pton accepts only dotted quads; no leading zeros (v1 grammar).
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && ($0.count == 1 || !$0.hasPrefix("0")) }) else { return nil }
            return address.ipAddress
        case (.v6, 6): return address.ipAddress
        default: return nil
        }
    }

    /// RFC 5952 text: lower-case hex groups, the longest run of two or more zero groups as `::`.
    static func ipv6(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0), run = (start: -1, length: 0)
        for (i, g) in groups.enumerated() {
            if g == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[0..<best.start].joined(separator: ":"), tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
