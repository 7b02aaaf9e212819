import LiveGateModel
import HTTPTypes
import NIOCore

/// The address a request came from, as the failed-login throttle counts it (docs/api.md,
/// "Behind a balancer").
///
/// Behind the shipped HAProxy every request arrives from the balancer, so counting the peer
/// would put every client in one bucket. When the peer is one of `http.trustedProxies`, the
/// client is read from `X-Forwarded-For`, right to left, skipping entries that are themselves
/// trusted proxies: the first other entry is the address the nearest trusted proxy saw.
/// Entries to its left were written by the client and are never believed. From any other peer
/// the header is ignored.
enum ClientAddress {
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    static func resolve(peer: SocketAddress?, headers: HTTPFields, trusted: (SocketAddress) -> Bool) -> String {
        guard let peer, let peerIP = peer.ipAddress else { return "unknown" }
        guard trusted(peer) else { return peerIP }
        let entries = headers[values: forwardedFor].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for entry in entries.reversed() {
            guard let address = try? SocketAddress(ipAddress: entry, port: 0) else {
                // Not an address (a proxy's `unknown`, or garbage): the chain cannot be followed further.
                return String(entry.unicodeScalars.filter { $0.isASCII && !$0.properties.isWhitespace }.prefix(64).map(Character.init))
            }
            if !trusted(address) { return address.ipAddress ?? entry }
        }
        return entries.first.flatMap { try? SocketAddress(ipAddress: $0, port: 0) }?.ipAddress ?? peerIP
    }
}
