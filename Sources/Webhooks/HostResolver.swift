import LiveGateModel
import Foundation

/// Turns a host name into addresses, for the outbound guard (`OutboundGuard`). Synchronous:
/// called on a Dispatch thread (webhooks) or a media worker thread (forwards), never on an
/// event loop.
public protocol HostResolver: Sendable {
    func addresses(of host: String) throws -> [[UInt8]]
}

public struct HostResolutionError: Error, CustomStringConvertible {
    public var host: String
    public init(host: String) { self.host = host }
    public var description: String { "DNS lookup failed for \(host)" }
}

/// The C library's resolver (`getaddrinfo`: /etc/hosts, DNS, nsswitch), as connecting would use.
public struct SystemHostResolver: HostResolver {
    public init() {}

    public func addresses(of host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { throw HostResolutionError(host: host) }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sa = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin_addr.s_addr) { Array($0) } }
                    if !out.contains(bytes) { out.append(bytes) }
                } else if info.pointee.ai_family == AF_INET6 {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in withUnsafeBytes(of: p.pointee.sin6_addr) { Array($0) } }
                    if !out.contains(bytes) { out.append(bytes) }
                }
            }
            cursor = info.pointee.ai_next
        }
        if out.isEmpty { throw HostResolutionError(host: host) }
        return out
    }
}

/// Names from a hosts(5) file (`network.hostsFile`) first, then the fallback: an operator's
/// split-horizon overrides, and how the tests point names at loopback without a DNS server.
public struct HostsFileResolver: HostResolver {
    public let entries: [String: [[UInt8]]]
    public let fallback: any HostResolver

    public init(path: String, fallback: any HostResolver = SystemHostResolver()) throws {
        self.init(text: try String(contentsOfFile: path, encoding: .utf8), fallback: fallback)
    }

    public init(text: String, fallback: any HostResolver = SystemHostResolver()) {
        var entries: [String: [[UInt8]]] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?.split(whereSeparator: { $0 == " " || $0 == "\t" }) ?? []
            guard fields.count >= 2, let address = OutboundAddressPolicy.literal(String(fields[0])) else { continue }
            for name in fields.dropFirst() { entries[name.lowercased(), default: []].append(address) }
        }
        self.entries = entries
        self.fallback = fallback
    }

    public func addresses(of host: String) throws -> [[UInt8]] {
        if let listed = entries[host.lowercased()] { return listed }
        return try fallback.addresses(of: host)
    }
}
