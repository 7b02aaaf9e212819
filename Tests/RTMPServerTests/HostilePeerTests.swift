import Foundation
import NIOCore
import RTMPCore
import RTMPServer
import TestSupport
import XCTest

/// Peers that break the protocol get their own connection closed, with a logged reason,
/// while a real publisher on the same server carries on untouched.
final class HostilePeerTests: XCTestCase {
    func testHostilePeersAreClosedWhileAGoodPublisherIsUnaffected() async throws {
        let dir = try MediaTools.temporaryDirectory("hostile")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let source = try await MediaTools.probe(clip)
        let server = try await TestServer.start(keys: ["GOOD"]) {
            $0.handshakeTimeoutSeconds = 1
            $0.mediaTimeoutSeconds = 3
        }

        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path,
                                                   "-c", "copy", "-f", "flv", server.url("GOOD")], timeout: 30)
        }
        try await Task.sleep(for: .milliseconds(700))

        let port = server.port
        let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
            for attack in Self.attacks {
                group.addTask {
                    do {
                        let client = try await RawRTMPClient.connect(port: port)
                        try await attack.run(client)
                        let closed = await client.waitForClose(timeout: 5)
                        await client.close()
                        return (attack.name, closed)
                    } catch {
                        return (attack.name, true) // the server closed while we were still writing
                    }
                }
            }
            var results: [(String, Bool)] = []
            for await r in group { results.append(r) }
            return results
        }
        for (name, closed) in outcomes {
            XCTAssertTrue(closed, "\(name): server did not close the connection")
        }

        let result = try await publisher.value
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let ended = await server.sink.waitForEnd("GOOD")
        let stream = try XCTUnwrap(ended)
        XCTAssertEqual(stream.endReason, .unpublished)
        XCTAssertEqual(stream.videoFrames, source.first { $0.codecType == "video" }?.packets)
        XCTAssertEqual(stream.audioFrames, source.first { $0.codecType == "audio" }?.packets)

        // Every attack left a reason in the log.
        let reasons = server.logs.matching { $0.message.contains("protocol error") }.compactMap { $0.metadata["reason"] }
        for expected in ["unsupported RTMP version", "handshake not completed", "exceeds 8388608", "Set Chunk Size 0",
                         "nesting deeper than", "long string of 4294967295 bytes overruns"] {
            XCTAssertTrue(reasons.contains { $0.contains(expected) }, "no logged reason containing '\(expected)' in \(reasons)")
        }
        let remaining = await server.waitForConnectionCount(0)
        XCTAssertEqual(remaining, 0, "every slot released")
        await server.stop()
    }

    struct Attack: Sendable {
        var name: String
        var run: @Sendable (RawRTMPClient) async throws -> Void
    }

    static let attacks: [Attack] = [
        Attack(name: "random bytes") { client in
            var bytes = (0..<65536).map { _ in UInt8.random(in: 0...255) }
            bytes[0] = 0x41
            await client.writeIgnoringErrors(ByteBuffer(bytes: bytes))
        },
        Attack(name: "random bytes after a handshake") { client in
            try await client.handshake()
            await client.writeIgnoringErrors(ByteBuffer(bytes: (0..<65536).map { _ in UInt8.random(in: 0...255) }))
        },
        Attack(name: "truncated handshake held open") { client in
            try await client.write([3] + [UInt8](repeating: 7, count: 100))
        },
        Attack(name: "16 MiB declared message length") { client in
            try await client.handshake()
            // fmt 0, csid 3, timestamp 0, length 0xFFFFFF, type 9, stream 1; then a little payload.
            await client.writeIgnoringErrors(ByteBuffer(bytes: [0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 9, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 128)))
        },
        Attack(name: "4 GiB AMF long string") { client in
            try await client.handshake()
            var payload = ByteBuffer()
            AMF0Encoder.encode([.string("connect"), .number(1)], into: &payload)
            payload.writeInteger(UInt8(0x0C)) // long string marker
            payload.writeInteger(UInt32.max)
            payload.writeString("tiny")
            await client.writeIgnoringErrors(chunked([RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: .commandAMF0, streamID: 0, payload: payload)]))
        },
        Attack(name: "chunk size 0") { client in
            try await client.handshake()
            await client.writeIgnoringErrors(chunked([ProtocolControl.setChunkSize(0)]))
        },
        Attack(name: "chunk size 0x7fffffff then an oversized message") { client in
            try await client.handshake()
            var bytes = chunked([ProtocolControl.setChunkSize(0x7FFF_FFFF)])
            bytes.writeBytes([0x04, 0, 0, 0, 0xFF, 0xFF, 0xF0, 8, 1, 0, 0, 0])
            await client.writeIgnoringErrors(bytes)
        },
        Attack(name: "AMF nesting 10,000 deep") { client in
            try await client.handshake()
            var payload = ByteBuffer()
            AMF0Encoder.encode([.string("connect"), .number(1)], into: &payload)
            for _ in 0..<10_000 {
                payload.writeInteger(UInt8(0x03))
                payload.writeInteger(UInt16(1))
                payload.writeString("a")
            }
            await client.writeIgnoringErrors(chunked([RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: .commandAMF0, streamID: 0, payload: payload)]))
        },
    ]

    static func chunked(_ messages: [RTMPMessage]) -> ByteBuffer {
        var encoder = ChunkEncoder()
        var out = ByteBuffer()
        for m in messages { encoder.write(m, into: &out) }
        return out
    }
}
