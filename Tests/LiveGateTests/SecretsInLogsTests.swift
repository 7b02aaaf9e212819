import Crypto
import Foundation
import TestSupport
import XCTest

/// Issue #13 item 4: no secret in any log line at any level. The whole flow — API calls, a
/// webhook with its secret, a publish with ffmpeg, deliveries, a key reset, a forward whose
/// URL holds a key — runs at `debug` in both formats, and every key, secret, token secret and
/// token hash it used is searched for in what the gateway logged.
final class SecretsInLogsTests: XCTestCase {
    func testADebugRunLogsNoKeySecretOrTokenInTextAndJSON() async throws {
        for format in ["text", "json"] {
            try await runFlow(format: format)
        }
    }

    func runFlow(format: String) async throws {
        let dir = try MediaTools.temporaryDirectory("secrets-\(format)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts()
        let token = "secrets\(format)"
        let setup = try await liveSetup(dir: dir, port: port, token: token,
                                        extraEnv: ["LIVEGATE_LOG_LEVEL": "debug", "LIVEGATE_LOG_FORMAT": format], record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let forwardKey = "fwdKEY" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        _ = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/forwards",
                                  "--json", "{\"url\":\"rtmp://127.0.0.1:9/live/\(forwardKey)\"}"])
        let published = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let delivered = await setup.receiver.wait { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(delivered)
        // A wrong key and a wrong token, too: refusals log what they refuse.
        _ = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)WRONG"], timeout: 30)
        _ = try await ProcessRunner.run("curl", ["-s", "-u", "tok_\(token):\(token)-secretWRONG", "\(setup.api)/v1/channels"], timeout: 10)
        let reset = try await setup.curl(["-X", "POST", "\(setup.api)/v1/channels/\(setup.channelID)/reset-key"])
        let newKey = try XCTUnwrap((reset["data"] as? [String: Any])?["streamId"] as? String)
        _ = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)"])
        let hooks = try await setup.curl(["\(setup.api)/v1/webhooks"])
        let hookID = try XCTUnwrap(((hooks["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first?["id"] as? String)
        _ = try await setup.curl(["-X", "POST", "\(setup.api)/v1/webhooks/\(hookID)/test"])
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()

        let log = try String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)
        XCTAssertTrue(log.contains(format == "json" ? "\"level\":\"debug\"" : " DEBUG "), "the run was at debug (\(format))")
        let tokenSecret = "\(token)-secret-0123456789"
        let tokenHash = SHA256.hash(data: Data(tokenSecret.utf8)).map { String(format: "%02x", $0) }.joined()
        let webhookSecret = setup.receiver.secret
        var secrets = ["stream key": setup.key, "new stream key": newKey, "token secret": tokenSecret, "token hash": tokenHash,
                       "webhook secret": webhookSecret, "forward key": forwardKey]
        secrets["webhook secret (key part)"] = String(webhookSecret.dropFirst("whsec_".count))
        for (what, secret) in secrets {
            XCTAssertFalse(secret.isEmpty)
            let hits = log.split(separator: "\n").filter { $0.contains(secret) || $0.contains(secret.prefix(12)) && secret.count > 16 }
            XCTAssertTrue(hits.isEmpty, "\(format): the \(what) is in the log: \(hits.prefix(2))")
        }
        XCTAssertGreaterThan(log.split(separator: "\n").count, 20)
    }
}
