import Foundation
import RTMPServer
import TestSupport
import XCTest

/// RTMPS: the same protocol inside TLS, with a self-signed certificate made by the test.
final class RTMPSTests: XCTestCase {
    func testFFmpegPublishesOverRTMPSWithEveryFrame() async throws {
        let dir = try MediaTools.temporaryDirectory("rtmps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let source = try await MediaTools.probe(clip)
        let server = try await TestServer.start(keys: ["TLSKEY"]) {
            $0.tlsPort = 0
            $0.tlsCertificatePath = cert
            $0.tlsKeyPath = key
        }
        let tlsPort: Int? = try await server.waitForTLSPort()
        let port = try XCTUnwrap(tlsPort)
        let result = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                           "rtmps://127.0.0.1:\(port)/live/TLSKEY"], timeout: 30)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let ended = await server.sink.waitForEnd("TLSKEY")
        XCTAssertEqual(ended?.endReason, .unpublished)
        XCTAssertEqual(ended?.videoFrames, source.first { $0.codecType == "video" }?.packets)
        XCTAssertEqual(ended?.audioFrames, source.first { $0.codecType == "audio" }?.packets)
        // Plain RTMP still works on its own port.
        let plain = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-t", "1", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                          server.url("TLSKEY")], timeout: 30)
        XCTAssertEqual(plain.exitCode, 0, plain.stderr)
        await server.stop()
    }

    func testUnreadableCertificateStopsStartUpWithTheReason() async throws {
        var config = RTMPServerConfiguration(host: "127.0.0.1", port: 0)
        config.tlsPort = 0
        config.tlsCertificatePath = "/nonexistent/cert.pem"
        config.tlsKeyPath = "/nonexistent/key.pem"
        let server = RTMPServer(configuration: config, authorizer: RefuseAllAuthorizer())
        do {
            try await server.run()
            XCTFail("expected a TLS setup error")
        } catch let error as RTMPServer.TLSSetupError {
            XCTAssertTrue(error.description.contains("/nonexistent/cert.pem"), error.description)
        }
    }
}
