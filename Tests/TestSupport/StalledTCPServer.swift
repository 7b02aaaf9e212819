import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server that accepts connections and then never reads from them, nor answers: the
/// worst push target (its peers' writes stall once the socket buffers fill).
public final class StalledTCPServer: Sendable {
    private let channel: any Channel
    public let port: Int
    private let accepted: NIOLockedValueBox<Int>
    /// Connections accepted so far (a guard test: a refused target is never connected to).
    public var acceptedConnections: Int { accepted.withLockedValue { $0 } }

    public static func start() async throws -> StalledTCPServer {
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeSucceededFuture(())
            }
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
            .bind(host: "127.0.0.1", port: 0).get()
        return StalledTCPServer(channel: channel, port: channel.localAddress?.port ?? 0, accepted: accepted)
    }

    private init(channel: any Channel, port: Int, accepted: NIOLockedValueBox<Int>) {
        self.accepted = accepted
        self.channel = channel
        self.port = port
    }

    public func stop() async { try? await channel.close() }
}
