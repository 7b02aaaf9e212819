import Foundation
import TestSupport
import XCTest

/// Issue #13 items 2 and 6 on the real binary: answers say the state after the change, and a
/// store outage is a 503 the client may retry — never a 500, never a lock-out.
final class APIAsDeployedTests: XCTestCase {
    /// Status and parsed body of one curl call.
    func call(_ api: String, _ token: String, _ method: String, _ path: String, _ body: String? = nil) async throws
        -> (status: Int, headers: String, body: [String: Any]) {
        let headers = FileManager.default.temporaryDirectory.appendingPathComponent("h-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: headers) }
        var args = ["-s", "-u", "tok_\(token):\(token)-secret-0123456789", "-X", method, "-D", headers.path, "-w", "\n%{http_code}", api + path]
        if let body { args += ["--json", body] }
        let r = try await ProcessRunner.run("curl", args, timeout: 15)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let json = (try? JSONSerialization.jsonObject(with: Data(lines.dropLast().joined(separator: "\n").utf8))) as? [String: Any] ?? [:]
        return (Int(lines.last ?? "") ?? 0, (try? String(contentsOf: headers, encoding: .utf8)) ?? "", json)
    }

    func testDisableAndResetKeyAnswerTheChannelAfterTheKick() async throws {
        let dir = try MediaTools.temporaryDirectory("answers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 10, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "answers")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        func publish(_ key: String) -> Task<ProcessResult, any Error> {
            Task {
                try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                       "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 30)
            }
        }
        let first = publish(setup.key)
        let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        let disabled = try await call(setup.api, "answers", "POST", "/v1/channels/\(setup.channelID)/disable")
        XCTAssertEqual(disabled.status, 200)
        let data = try XCTUnwrap(disabled.body["data"] as? [String: Any])
        XCTAssertEqual(data["enabled"] as? Bool, false)
        XCTAssertEqual(data["status"] as? String, "offline", "the answer is the channel after the kick, not the live it was")
        XCTAssertTrue(data["session"] is NSNull)
        _ = try await first.value
        XCTAssertEqual(setup.receiver.events("channel.offline").last?.reason, "disabled")

        _ = try await call(setup.api, "answers", "POST", "/v1/channels/\(setup.channelID)/enable")
        let second = publish(setup.key)
        let liveAgain = await setup.receiver.wait { $0.filter { $0.type == "channel.live" }.count == 2 }
        XCTAssertTrue(liveAgain)
        let reset = try await call(setup.api, "answers", "POST", "/v1/channels/\(setup.channelID)/reset-key")
        let resetData = try XCTUnwrap(reset.body["data"] as? [String: Any])
        XCTAssertEqual(resetData["status"] as? String, "offline")
        XCTAssertNotEqual(resetData["streamId"] as? String, setup.key)
        _ = try await second.value
        XCTAssertEqual(setup.receiver.events("channel.offline").last?.reason, "key_reset")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
    }

    /// Tried as an operator would: ~20 authenticated calls during a PostgreSQL outage used to
    /// answer 500 and count as failed logins, locking the client's IP out with 429 for 48 s
    /// after the database was back.
    func testAStoreOutageAnswers503WithRetryAfterAndLocksNobodyOut() async throws {
        let (base, targetPort) = try testPostgres()
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory("outage-api")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(3)
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        url.port = port + 2
        var relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)
        defer { relay.terminate() }
        let setup = try await liveSetup(dir: dir, port: port, token: "outage3",
                                        extraEnv: ["LIVEGATE_DATABASE_URL": try XCTUnwrap(url.string), "LIVEGATE_API_AUTH_FAILURES_PER_MINUTE": "5"])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let before = try await call(setup.api, "outage3", "GET", "/v1/channels/\(setup.channelID)")
        XCTAssertEqual(before.status, 200)

        relay.terminate()
        for path in Array(repeating: "/v1/channels", count: 12) + ["/v1/channels/\(setup.channelID)", "/v1/webhooks", "/v1/events"] {
            let r = try await call(setup.api, "outage3", "GET", path)
            XCTAssertEqual(r.status, 503, "\(path): \(r.body)")
            XCTAssertEqual(r.body["ec"] as? Int, 5030)
            XCTAssertTrue(r.headers.lowercased().contains("retry-after:"), r.headers)
        }
        let write = try await call(setup.api, "outage3", "POST", "/v1/channels", #"{"name":"during","userId":"u1"}"#)
        XCTAssertEqual(write.status, 503)

        relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)
        var after = try await call(setup.api, "outage3", "GET", "/v1/channels/\(setup.channelID)")
        for _ in 0..<50 where after.status == 503 {
            try await Task.sleep(for: .milliseconds(200))
            after = try await call(setup.api, "outage3", "GET", "/v1/channels/\(setup.channelID)")
        }
        XCTAssertEqual(after.status, 200, "served again once the store is back — no 429: outages are no failed logins")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
        await scratch.drop()
    }
}
