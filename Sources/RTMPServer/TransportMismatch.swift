import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Recognises a client that speaks the other transport than the port it reached, from the first
/// byte it sends: an RTMP C0 is 0x03, a TLS record starts with 0x16 (handshake content type).
/// Without this, a TLS client on 1935 fails with a bare "unsupported RTMP version 22" and a plain
/// client on 1936 with a TLS parse error — neither tells the operator what to change.
enum TransportMismatch {
    static let tlsHandshakeRecord: UInt8 = 0x16
    static let rtmpVersion: UInt8 = 3

    /// The one log line for a TLS client on the plain listener.
    static func tlsOnPlainPort(host: String, tlsPort: Int?) -> String {
        if let tlsPort { return "TLS on the plain port — use rtmps://\(host):\(tlsPort)" }
        return "TLS on the plain port — RTMPS is not enabled on this server (rtmp.tlsCertificate/rtmp.tlsKey); use rtmp://"
    }

    /// The one log line for a plain RTMP client on the RTMPS listener.
    static func plainOnTLSPort(host: String, plainPort: Int) -> String {
        "plain RTMP on the TLS port — use rtmp://\(host):\(plainPort) or rtmps:// here"
    }

    /// The host part of an advice URL: the address the client reached (it routes back to us).
    static func host(of address: SocketAddress?) -> String {
        guard let ip = address?.ipAddress else { return "HOST" }
        if case .v6 = address, !ip.hasPrefix("::ffff:") { return "[\(ip)]" }
        return ip.hasPrefix("::ffff:") ? String(ip.dropFirst(7)) : ip
    }
}

/// Sits in front of `NIOSSLServerHandler` on the RTMPS listener: a first byte of 0x03 is a plain
/// RTMP handshake, answered with one clear log line and a close instead of a TLS error. Removes
/// itself after the first read, so it costs nothing on the stream.
final class PlainOnTLSPortDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let logger: Logger
    private let ports: BoundPorts

    init(logger: Logger, ports: BoundPorts) {
        self.logger = logger
        self.ports = ports
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == TransportMismatch.rtmpVersion {
            let remote = context.channel.remoteAddress
            logger.warning("\(TransportMismatch.plainOnTLSPort(host: TransportMismatch.host(of: context.channel.localAddress), plainPort: ports.plain))",
                           metadata: ["remote": "\(remote?.ipAddress ?? "?"):\(remote?.port ?? 0)", "transport": "rtmps"])
            // Tell the connection handler first, so the TLS handler's "EOF during handshake" on
            // close does not become a second, misleading line.
            context.fireUserInboundEventTriggered(TransportMismatchEvent())
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// The ports the listeners actually bound (configured ports may be 0 in tests), for the advice
/// in the mismatch log lines. Written once at start-up, read on the first byte of a connection.
final class BoundPorts: Sendable {
    private let box = NIOLockedValueBox<(plain: Int, tls: Int?)>((0, nil))
    var plain: Int { box.withLockedValue { $0.plain } }
    var tls: Int? { box.withLockedValue { $0.tls } }
    func set(plain: Int, tls: Int?) { box.withLockedValue { $0 = (plain, tls) } }
}

/// Sent down the pipeline when the connection is closed for a transport mismatch (already logged).
struct TransportMismatchEvent: Sendable {}
