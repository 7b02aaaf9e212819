import Foundation
import RTMPServer
import TestSupport
import XCTest

/// What the listeners do to the sockets they accept and to clients on the wrong transport,
/// read back from the kernel (getsockopt on the accepted descriptor), not from our own options.
final class ListenerSocketTests: XCTestCase {
    /// TCP_NODELAY must be set at the TCP level on every accepted RTMP and RTMPS socket; the old
    /// `.socketOption(.tcp_nodelay)` set SOL_SOCKET option 1 — SO_DEBUG — instead, which only root may.
    func testAcceptedSocketsHaveTCPNoDelayAndNotSODebug() async throws {
        let dir = try MediaTools.temporaryDirectory("sockopt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        let server = try await TestServer.start { $0.tlsPort = 0; $0.tlsCertificatePath = cert; $0.tlsKeyPath = key }
        let tlsPort: Int? = try await server.waitForTLSPort()
        for port in [server.port, try XCTUnwrap(tlsPort)] {
            let client = try await RawRTMPClient.connect(port: port)
            var accepted: [Int32] = []
            for _ in 0..<100 where accepted.isEmpty {
                accepted = AcceptedSockets.find(localPort: port)
                try await Task.sleep(for: .milliseconds(20))
            }
            XCTAssertEqual(accepted.count, 1, "one accepted socket on port \(port)")
            for fd in accepted {
                XCTAssertEqual(AcceptedSockets.option(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY), 1, "TCP_NODELAY on port \(port)")
                XCTAssertEqual(AcceptedSockets.option(fd, level: SOL_SOCKET, name: SO_DEBUG), 0, "SO_DEBUG stays off on port \(port)")
            }
            await client.close()
            _ = await server.waitForConnectionCount(0)
        }
        await server.stop()
    }

    /// ffmpeg speaking TLS to the plain port, and plain RTMP to the RTMPS port: each connection
    /// is closed with exactly one line that says which URL to use, and nothing else is logged
    /// as an error for it.
    func testWrongTransportGetsOneClearLogLine() async throws {
        let dir = try MediaTools.temporaryDirectory("mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        let clip = try await MediaTools.makeClip(seconds: 1, in: dir)
        let server = try await TestServer.start(keys: ["KEY"]) { $0.tlsPort = 0; $0.tlsCertificatePath = cert; $0.tlsKeyPath = key }
        let tlsPort: Int? = try await server.waitForTLSPort()
        let secure = try XCTUnwrap(tlsPort)

        let tlsOnPlain = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmps://127.0.0.1:\(server.port)/live/KEY"], timeout: 20)
        XCTAssertNotEqual(tlsOnPlain.exitCode, 0)
        let plainOnTLS = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(secure)/live/KEY"], timeout: 20)
        XCTAssertNotEqual(plainOnTLS.exitCode, 0)
        _ = await server.waitForConnectionCount(0)
        try await Task.sleep(for: .milliseconds(200))
        let lines = server.logs.all
        let advice = lines.filter { $0.message.contains("on the plain port") || $0.message.contains("on the TLS port") }
        XCTAssertEqual(advice.map(\.message).sorted(), [
            "TLS on the plain port — use rtmps://127.0.0.1:\(secure)",
            "plain RTMP on the TLS port — use rtmp://127.0.0.1:\(server.port) or rtmps:// here",
        ], "\(lines.map(\.message))")
        let noisy = lines.filter { $0.message.contains("connection error") || $0.message.contains("protocol error") }
        XCTAssertTrue(noisy.isEmpty, "\(noisy.map { "\($0.message) \($0.metadata)" })")
        XCTAssertNil(server.sink.stream("KEY"), "nothing was published")
        await server.stop()
    }

    /// A listener that cannot bind says which one and where.
    func testBindFailureNamesTheListenerAndAddress() async throws {
        let first = try await TestServer.start()
        let second = RTMPServer(configuration: RTMPServerConfiguration(host: "127.0.0.1", port: first.port), authorizer: RefuseAllAuthorizer())
        do {
            try await second.run()
            XCTFail("a second listener on the same port must fail")
        } catch let error as ListenerBindError {
            XCTAssertEqual(error.description, "RTMP listener cannot bind 127.0.0.1:\(first.port): Address already in use (errno 98)")
        }
        await first.stop()
    }
}

/// The test process holds both ends of each loopback connection; the server's end is the socket
/// whose local port is the listener's and which has a peer (the listening socket has none).
enum AcceptedSockets {
    static func find(localPort: Int) -> [Int32] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { Int32($0) }.filter { fd in
            var local = sockaddr_storage(), peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size), peerLength = length
            let gotLocal = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            let gotPeer = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) } }
            guard gotLocal == 0, gotPeer == 0, Int32(local.ss_family) == AF_INET else { return false }
            let port = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
            return Int(port) == localPort
        }
    }

    static func option(_ fd: Int32, level: Int32, name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1
    }
}
