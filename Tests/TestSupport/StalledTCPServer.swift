import NIOCore
import NIOPosix

/// A TCP server that accepts connections and then never reads from them, nor answers: the
/// worst push target (its peers' writes stall once the socket buffers fill).
public final class StalledTCPServer: Sendable {
    private let channel: any Channel
    public let port: Int

    public static func start() async throws -> StalledTCPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
            .bind(host: "127.0.0.1", port: 0).get()
        return StalledTCPServer(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    private init(channel: any Channel, port: Int) {
        self.channel = channel
        self.port = port
    }

    public func stop() async { try? await channel.close() }
}
