import Foundation
import TestSupport
import XCTest

/// Runs the real `livegate` executable as an operator would.
final class GatewayBinaryTests: XCTestCase {
    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for candidate in [".build/debug/livegate", ".build/x86_64-unknown-linux-gnu/debug/livegate", ".build/aarch64-unknown-linux-gnu/debug/livegate"] {
            let path = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/livegate").path
    }

    func testVersion() async throws {
        let r = try await ProcessRunner.run(Self.binary, ["version"], timeout: 10)
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertTrue(r.stdout.hasPrefix("livegate "), r.stdout)
    }

    func testCheckConfigReportsProblemsAndServeRefusesToStart() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-\(UUID()).yaml")
        try "rtmp:\n  maxConnections: 0\n  bogus: 1\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try await ProcessRunner.run(Self.binary, ["check-config", "--config", file.path], timeout: 10)
        XCTAssertNotEqual(check.exitCode, 0)
        XCTAssertTrue(check.stdout.contains("rtmp.maxConnections"), check.stdout)
        XCTAssertTrue(check.stdout.contains("rtmp.bogus: unknown key"), check.stdout)
        let serve = try await ProcessRunner.run(Self.binary, ["serve", "--config", file.path], timeout: 10)
        XCTAssertNotEqual(serve.exitCode, 0)
        XCTAssertFalse(serve.timedOut)
    }

    /// Until the channel store is wired, `serve` must refuse every key: ffmpeg fails within 2 s
    /// with the status in its stderr, and SIGTERM stops the gateway cleanly.
    func testServeRefusesEveryKeyAndStopsOnSIGTERM() async throws {
        let dir = try MediaTools.temporaryDirectory("binary")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, in: dir)
        let port = Int.random(in: 20000...29000)
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: Self.binary)
        gateway.arguments = ["serve", "--rtmp-port", "\(port)"]
        gateway.environment = ["LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_DATA_DIR": dir.path, "PATH": "/usr/bin:/bin"]
        let logPipe = Pipe()
        gateway.standardError = logPipe
        gateway.standardOutput = FileHandle.nullDevice
        try gateway.run()
        defer { if gateway.isRunning { gateway.terminate() } }

        // Wait for the listener.
        var listening = false
        for _ in 0..<100 {
            if let c = try? await RawRTMPClient.connect(port: port) { await c.close(); listening = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertTrue(listening)

        let r = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                      "rtmp://127.0.0.1:\(port)/live/ANYKEY"], timeout: 10)
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertLessThan(r.duration, 2.0)
        XCTAssertTrue(r.stderr.contains("NetStream.Publish.Unauthorized"), r.stderr)

        let start = Date()
        gateway.terminate() // SIGTERM
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let logs = String(decoding: logPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(logs.contains("publish rejected"), logs)
        XCTAssertTrue(logs.contains("key=ANYK…(6)"), logs)
        XCTAssertFalse(logs.contains("ANYKEY"), "stream keys are never logged whole")
    }
}
