import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTMPCore

/// A bare TCP client for hostile-peer tests: does a real handshake when asked, then sends
/// whatever bytes the test crafts, and reports whether (and when) the server closed.
public final class RawRTMPClient: Sendable {
    private let channel: any Channel
    private let inbox: NIOLockedValueBox<ByteBuffer>

    public static func connect(port: Int) async throws -> RawRTMPClient {
        let inbox = NIOLockedValueBox(ByteBuffer())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawRTMPClient(channel: channel, inbox: inbox)
    }

    private init(channel: any Channel, inbox: NIOLockedValueBox<ByteBuffer>) {
        self.channel = channel
        self.inbox = inbox
    }

    public func write(_ bytes: ByteBuffer) async throws { try await channel.writeAndFlush(bytes) }
    public func write(_ bytes: [UInt8]) async throws { try await write(ByteBuffer(bytes: bytes)) }

    /// Writes, ignoring errors (the server may already have closed on us — that is the point).
    public func writeIgnoringErrors(_ bytes: ByteBuffer) async { try? await write(bytes) }

    public var receivedBytes: Int { inbox.withLockedValue { $0.readableBytes } }

    /// Performs a client handshake (digest C1 by default).
    public func handshake(digest: Bool = true) async throws {
        var hs = ClientHandshake(digest: digest)
        try await write(hs.start())
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            var buffer = inbox.withLockedValue { $0 }
            if let (c2, _) = try hs.next(&buffer) {
                inbox.withLockedValue { $0.moveReaderIndex(forwardBy: 1 + 2 * 1536) }
                try await write(c2)
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw HandshakeTimedOut()
    }

    struct HandshakeTimedOut: Error {}

    /// True when the server closed the connection within `timeout` seconds.
    public func waitForClose(timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !channel.isActive
    }

    public func close() async { try? await channel.close() }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: NIOLockedValueBox<ByteBuffer>
        init(inbox: NIOLockedValueBox<ByteBuffer>) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            _ = inbox.withLockedValue { $0.writeBuffer(&bytes) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
