import Logging
import NIOCore
import RTMPCore

/// `rtmp.proxyProtocol`: which PROXY protocol headers the RTMP listener reads.
public enum ProxyProtocolMode: String, Sendable, CaseIterable {
    /// None: the TCP peer is the broadcaster.
    case off
    /// A trusted proxy must send a v1 (text) header; others connect directly.
    case v1
    /// A trusted proxy must send a v2 (binary, HAProxy `send-proxy-v2`, AWS NLB) header.
    case v2
    /// A trusted proxy may send either version, or none.
    case auto
}

/// The broadcaster's address from a PROXY header, handed to `RTMPConnectionHandler` before
/// its `channelActive`, so logs, sessions, per-IP limits and throttles all use it.
struct ProxiedPeer: Sendable {
    var ip: String
    var port: Int
}

/// First in the pipeline of an RTMP connection when `rtmp.proxyProtocol` is on: holds the
/// connection's activation until the PROXY header is read (within the handshake timeout),
/// then removes itself. A header from a peer outside `rtmp.trustedProxies`, a malformed one,
/// the wrong version or a trusted proxy that sends none (v1/v2 modes) closes the connection
/// with a logged reason — believing any peer's header would let anyone pick the address
/// that per-IP limits, throttles and logs see.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let mode: ProxyProtocolMode
    let trusted: [CIDRBlock]
    let timeout: TimeAmount
    var logger: Logger
    private var buffer: ByteBuffer?
    private var peerTrusted = false
    private var timer: Scheduled<Void>?
    /// Header read (or refused): nothing more to decide.
    private var done = false
    /// The RTMP handler behind was activated (and so must see the connection close).
    private var activated = false

    init(mode: ProxyProtocolMode, trusted: [CIDRBlock], timeout: TimeAmount, logger: Logger) {
        self.mode = mode
        self.trusted = trusted
        self.timeout = timeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress
        peerTrusted = peer.map { address in trusted.contains { $0.contains(address) } } ?? false
        logger[metadataKey: "peer"] = "\(peer.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown")"
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.handler.refuse(bound.value.context, "no PROXY header and no RTMP within the handshake timeout")
        }
        // channelActive is passed on once the header is read: the RTMP handler starts with the
        // broadcaster's address.
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { context.fireChannelRead(data); return }
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let bytes = buffer else { return }
        switch ProxyProtocolHeader.parse(bytes.readableBytesView) {
        case .needMore:
            return
        case .absent:
            if peerTrusted && mode != .auto {
                refuse(context, "a trusted proxy sent no PROXY \(mode.rawValue) header")
            } else {
                activate(context, peer: nil)
            }
        case .header(let header, let consumed):
            guard peerTrusted else { return refuse(context, "PROXY header from a peer not in rtmp.trustedProxies") }
            if (mode == .v1 && header.version != .v1) || (mode == .v2 && header.version != .v2) {
                return refuse(context, "PROXY \(header.version == .v1 ? "v1" : "v2") header where rtmp.proxyProtocol is \(mode.rawValue)")
            }
            buffer?.moveReaderIndex(forwardBy: consumed)
            activate(context, peer: header.source.map { ProxiedPeer(ip: $0.address, port: $0.port) })
        case .invalid(let reason):
            refuse(context, reason)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        // An RTMP handler that never became active has nothing to close.
        if activated { context.fireChannelInactive() }
    }

    private func activate(_ context: ChannelHandlerContext, peer: ProxiedPeer?) {
        done = true
        activated = true
        timer?.cancel()
        if let peer { context.fireUserInboundEventTriggered(peer) }
        context.fireChannelActive()
        if let rest = buffer, rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        buffer = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        guard !done else { return }
        done = true
        timer?.cancel()
        logger.warning("connection closed", metadata: ["reason": "\(reason)"])
        buffer = nil
        context.close(promise: nil)
    }
}
