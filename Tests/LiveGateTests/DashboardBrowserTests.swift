import Foundation
import TestSupport
import XCTest

/// Issue #23 items 6–7: the dashboard at `/ui/` in a real browser — Debian's Chromium, headless,
/// driven over the DevTools protocol by `scripts/dashboard-check.py` — against the real gateway
/// with a real ffmpeg publish, signed in with a `stats:read` token (the read-only operator scope
/// is enough). A wrong token gets a clear message; the live table shows the channel with a bit
/// rate and a picture that loaded; a channel named like markup is shown as text; the event feed
/// shows `channel.live` within 2 s; the channel page's chart has points. The screenshots are
/// left in a folder this test prints.
final class DashboardBrowserTests: XCTestCase {
    func testAnOperatorSeesLiveChannelsWithPicturesHealthAndEvents() async throws {
        guard (try? ProcessRunner.which("chromium")) != nil else {
            throw XCTSkip("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
        }
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import websocket"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("websocket-client (PyPI) is not installed: scripts/python-tools.sh installs it")
        }
        let dir = try MediaTools.temporaryDirectory("dashboard")
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "dash")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }

        // The page itself: no credentials needed, a strict policy, nothing from elsewhere.
        let page = try await ProcessRunner.run("curl", ["-s", "-D", "-", "\(setup.api)/ui/"], timeout: 10).stdout
        XCTAssertTrue(page.contains("HTTP/1.1 200"), page)
        XCTAssertTrue(page.lowercased().contains("content-security-policy: default-src 'self'"), page)
        XCTAssertFalse(page.contains("http://") || page.contains("https://"), "no resource from another origin")

        // A read-only operator token.
        let made = try await setup.curl(["-X", "POST", "\(setup.api)/v1/tokens", "--json", #"{"scopes":["stats:read"],"name":"dashboard"}"#])
        let token = try XCTUnwrap(made["data"] as? [String: Any], "\(made)")
        let tokenId = try XCTUnwrap(token["id"] as? String), secret = try XCTUnwrap(token["secret"] as? String)

        // The live channel is named like markup; a second one goes live while the feed watches.
        let probe = "<img src=x onerror=alert(1)>"
        let created = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json",
                                            "{\"name\":\"\(probe)\",\"userId\":\"u1\",\"tags\":[\"<b>bold</b>\"]}"])
        let channel = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
        let (id, key) = (try XCTUnwrap(channel["id"] as? String), try XCTUnwrap(channel["streamId"] as? String))
        let second = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels", "--json", #"{"name":"second","userId":"u1"}"#])
        let secondKey = try XCTUnwrap((second["data"] as? [String: Any])?["streamId"] as? String)

        let clip = try await MediaTools.makeClip(seconds: 4, size: "640x360", fps: 25, in: dir)
        let ffmpeg = try startPublisher(clip, url: "rtmp://127.0.0.1:\(port)/live/\(key)", seconds: 120)
        defer { if ffmpeg.isRunning { kill(ffmpeg.processIdentifier, SIGKILL) } }
        let live = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)

        let shots = dir.appendingPathComponent("screenshots")
        print("dashboard screenshots: \(shots.path)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/dashboard-check.py").path
        let run = try await ProcessRunner.run(python, [script, setup.api, tokenId, secret, id, "rtmp://127.0.0.1:\(port)/live/\(secondKey)", clip.path, shots.path],
                                              timeout: 180)
        let report = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(run.exitCode, 0, "the browser found: \(run.stdout) \(run.stderr.suffix(2000))")
        XCTAssertEqual(report["failures"] as? [String], [], run.stdout)
        XCTAssertEqual(report["nameCell"] as? String, probe, "the name shown as text")
        XCTAssertEqual(report["injectedImages"] as? Int, 0)
        XCTAssertEqual((report["alerts"] as? [Any])?.count, 0)
        XCTAssertGreaterThan(report["rowPictureWidth"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(report["chartPoints"] as? Int ?? 0, 0)
        XCTAssertLessThanOrEqual(report["eventDelayMs"] as? Double ?? 99_999, 2000)
        XCTAssertEqual((report["screenshots"] as? [String])?.count, 4)
    }
}
