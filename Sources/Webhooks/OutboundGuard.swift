import LiveGateModel
import Foundation

/// The outbound URL guard (`webhooks.blockPrivateNetworks`, `forwards.blockPrivateNetworks`):
/// a target's host is resolved when it is about to be reached — not only when the URL was
/// saved, since a name can be re-pointed at any time — and every address it resolves to must
/// be globally routable (`OutboundAddressPolicy`); one refused address refuses the target, so
/// a name with a public and a private record cannot slip through by the order of answers.
public struct OutboundGuard: Sendable {
    public var blockPrivateNetworks: Bool
    public var resolver: any HostResolver

    public init(blockPrivateNetworks: Bool, resolver: any HostResolver = SystemHostResolver()) {
        self.blockPrivateNetworks = blockPrivateNetworks
        self.resolver = resolver
    }

    public struct Refused: Error, CustomStringConvertible {
        public var description: String
    }

    /// The addresses `host` may be reached at (all it resolves to), or `Refused` naming the
    /// first one the policy refuses. Without blocking, just the resolution.
    public func check(host: String) throws -> [[UInt8]] {
        let addresses: [[UInt8]]
        if let literal = OutboundAddressPolicy.literal(host) {
            addresses = [literal]
        } else {
            addresses = try resolver.addresses(of: host)
        }
        guard blockPrivateNetworks else { return addresses }
        for address in addresses {
            if let why = OutboundAddressPolicy.refusal(address) {
                let shown = OutboundAddressPolicy.format(address)
                throw Refused(description: "blocked by blockPrivateNetworks: \(host)\(shown == host ? "" : " resolves to \(shown)"), \(why)")
            }
        }
        return addresses
    }

    /// `check` on a Dispatch thread: resolution blocks.
    public func checkAsync(host: String) async throws -> [[UInt8]] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try check(host: host) }) }
        }
    }
}

/// A webhook transport behind the outbound guard. A plain-HTTP receiver is then reached at
/// the very address that was checked (the URL's host replaced by it, the `Host` header kept),
/// so a DNS answer changed between the check and the connect cannot redirect it; HTTPS keeps
/// its name for TLS (certificate and SNI), checked just before the request.
public struct GuardedWebhookTransport: WebhookTransport {
    public let inner: any WebhookTransport
    public let outbound: OutboundGuard

    public init(_ inner: any WebhookTransport, guard outbound: OutboundGuard) {
        self.inner = inner
        self.outbound = outbound
    }

    public func post(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) async throws -> (status: Int, body: String) {
        guard var components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            return try await inner.post(url: url, headers: headers, body: body, timeout: timeout)
        }
        let addresses: [[UInt8]]
        do {
            addresses = try await outbound.checkAsync(host: host)
        } catch let refused as OutboundGuard.Refused {
            throw refused
        } catch {
            throw HostResolutionError(host: host)
        }
        guard components.scheme == "http", let pinned = addresses.first, OutboundAddressPolicy.literal(host) == nil else {
            return try await inner.post(url: url, headers: headers, body: body, timeout: timeout)
        }
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        let shown = OutboundAddressPolicy.format(pinned)
        components.host = pinned.count == 16 ? "[\(shown)]" : shown
        guard let pinnedURL = components.string else { return try await inner.post(url: url, headers: headers, body: body, timeout: timeout) }
        return try await inner.post(url: pinnedURL, headers: headers + [("host", hostHeader)], body: body, timeout: timeout)
    }
}
