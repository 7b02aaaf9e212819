import Foundation
import NIOCore
import RTMPCore
import RTMPServer
import TestSupport
import XCTest

final class ConnectionLimitTests: XCTestCase {
    func testPerIPAndServerConnectionCaps() async throws {
        let server = try await TestServer.start { $0.maxConnectionsPerIP = 2; $0.maxConnections = 3 }
        // Accepts are processed asynchronously: wait for each before the next, so "third" is c.
        let a = try await RawRTMPClient.connect(port: server.port)
        _ = await server.waitForConnectionCount(1)
        let b = try await RawRTMPClient.connect(port: server.port)
        _ = await server.waitForConnectionCount(2)
        let c = try await RawRTMPClient.connect(port: server.port)
        let closedC = await c.waitForClose(timeout: 2)
        XCTAssertTrue(closedC, "third connection from one IP is refused")
        let stillOpenA = await a.waitForClose(timeout: 0.3)
        XCTAssertFalse(stillOpenA)
        XCTAssertTrue(server.logs.all.contains { $0.message == "connection refused" && ($0.metadata["reason"] ?? "").contains("per-IP") })
        await a.close()
        try await Task.sleep(for: .milliseconds(200))
        let d = try await RawRTMPClient.connect(port: server.port)
        let closedD = await d.waitForClose(timeout: 0.5)
        XCTAssertFalse(closedD, "a released slot can be reused")
        await b.close(); await d.close()
        let remaining = await server.waitForConnectionCount(0)
        XCTAssertEqual(remaining, 0)
        await server.stop()
    }

    func testSilentPublisherIsDroppedWithMediaTimeout() async throws {
        let server = try await TestServer.start(keys: ["KEY"]) { $0.mediaTimeoutSeconds = 1 }
        let client = try await RawRTMPClient.connect(port: server.port)
        try await client.handshake()
        var encoder = ChunkEncoder()
        var bytes = ByteBuffer()
        for m in [CommandMessage(name: "connect", transactionID: 1, commandObject: .object(["app": .string("live")])).message(chunkStreamID: 3, streamID: 0),
                  CommandMessage(name: "createStream", transactionID: 2).message(chunkStreamID: 3, streamID: 0),
                  CommandMessage(name: "publish", transactionID: 3, arguments: [.string("KEY"), .string("live")]).message(chunkStreamID: 3, streamID: 1)] {
            encoder.write(m, into: &bytes)
        }
        try await client.write(bytes)
        let closed = await client.waitForClose(timeout: 4)
        XCTAssertTrue(closed)
        let ended = await server.sink.waitForEnd("KEY")
        XCTAssertEqual(ended?.started, true)
        XCTAssertEqual(ended?.endReason, .mediaTimeout)
        await server.stop()
    }

    func testKickEndsTheSessionWithTheGivenReason() async throws {
        let dir = try MediaTools.temporaryDirectory("kick")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let server = try await TestServer.start(keys: ["KEY"])
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-re", "-i", clip.path, "-c", "copy", "-f", "flv", server.url("KEY")], timeout: 20)
        }
        var session: IngestSession?
        for _ in 0..<100 where session == nil {
            session = server.sink.stream("KEY")?.sessions.first
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(500))
        session?.kick(.error(.publishUnauthorized, "stream key was reset"), reason: .kicked)
        let result = try await publisher.value
        XCTAssertNotEqual(result.exitCode, 0, "ffmpeg was stopped by the kick, not by its clip's end")
        let ended = await server.sink.waitForEnd("KEY")
        XCTAssertEqual(ended?.endReason, .kicked)
        await server.stop()
    }
}
