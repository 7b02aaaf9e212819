import Logging
import NIOCore
import RTMPCore
import RTMPServer
import ServiceLifecycle

/// Runs an in-process `RTMPServer` on a free loopback port for one test.
public final class TestServer: Sendable {
    public let server: RTMPServer
    public let sink: RecordingSink
    public let logs: LogCapture
    public let port: Int
    private let task: Task<Void, any Error>

    public static func start(
        keys: Set<String> = ["KEY"],
        authorizer: (any IngestAuthorizer)? = nil,
        configure: (inout RTMPServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var config = RTMPServerConfiguration(host: "127.0.0.1", port: 0)
        configure(&config)
        let sink = RecordingSink()
        let logs = LogCapture()
        let server = RTMPServer(configuration: config, authorizer: authorizer ?? StaticKeyAuthorizer(keys: keys), sink: sink,
                                logger: logs.logger(label: "livegate.rtmp"))
        let task = Task { try await server.run() }
        let port = try await server.waitUntilListening()
        return TestServer(server: server, sink: sink, logs: logs, port: port, task: task)
    }

    private init(server: RTMPServer, sink: RecordingSink, logs: LogCapture, port: Int, task: Task<Void, any Error>) {
        self.server = server
        self.sink = sink
        self.logs = logs
        self.port = port
        self.task = task
    }

    /// The RTMPS listener's port, once it is bound (it starts right after the plain one).
    public func waitForTLSPort() async throws -> Int {
        for _ in 0..<100 {
            if let port = server.tlsPort { return port }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TLSListenerNotStarted()
    }

    public struct TLSListenerNotStarted: Error {}

    public func url(_ key: String, app: String = "live") -> String { "rtmp://127.0.0.1:\(port)/\(app)/\(key)" }

    /// Polls until the server holds `count` connections (closes are noticed asynchronously).
    public func waitForConnectionCount(_ count: Int, timeout: Double = 3) async -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while server.connectionCount != count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return server.connectionCount
    }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }

    /// Log lines that say a connection was closed because of a protocol error, with their reasons.
    public var protocolErrorReasons: [String] {
        logs.matching { $0.message.contains("protocol error") || $0.message.contains("idle") }.compactMap { $0.metadata["reason"] ?? $0.message }
    }
}
