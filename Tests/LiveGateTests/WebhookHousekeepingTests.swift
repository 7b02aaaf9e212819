import Foundation
import TestSupport
import XCTest

/// Issue #19 item 3 on the real binary, signatures checked by `standardwebhooks` (PyPI): a test
/// ping to a failing receiver is one attempt, never retried; a rotated secret signs beside the new
/// one during the overlap and not after; a deleted live channel's `channel.offline` carries
/// `channel: null` with the session's `channelId` and `userId`.
final class WebhookHousekeepingTests: XCTestCase {
    func testPingRotationAndTheEventsOfADeletedChannel() async throws {
        let dir = try MediaTools.temporaryDirectory("housekeeping")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 10, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "house")
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let (api, curl, receiver) = (setup.api, setup.curl, setup.receiver)
        func data(_ r: [String: Any]) -> [String: Any] { r["data"] as? [String: Any] ?? [:] }

        // A ping to a receiver that is down: the answer says so, and it is never tried again.
        let dead = data(try await curl(["-X", "POST", "\(api)/v1/webhooks", "--json", #"{"url":"http://127.0.0.1:9/hook"}"#]))
        let deadID = try XCTUnwrap(dead["id"] as? String)
        let ping = data(try await curl(["-X", "POST", "\(api)/v1/webhooks/\(deadID)/test"]))
        XCTAssertEqual(ping["delivered"] as? Bool, false, "\(ping)")
        let deliveries = data(try await curl(["\(api)/v1/webhooks/\(deadID)/deliveries"]))["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(deliveries.count, 1)
        XCTAssertEqual(deliveries.first?["state"] as? String, "failed", "one attempt, not pending for 24 h: \(deliveries)")
        XCTAssertEqual(deliveries.first?["attempt"] as? Int, 1)
        XCTAssertTrue(deliveries.first?["nextAttemptAt"] is NSNull)
        let deadHook = data(try await curl(["\(api)/v1/webhooks/\(deadID)"]))
        XCTAssertTrue(deadHook["failingSince"] is NSNull, "a test is no part of the webhook's health")
        let pending = data(try await curl(["\(api)/v1/webhooks/\(deadID)/deliveries?state=pending"]))["items"] as? [[String: Any]] ?? []
        XCTAssertTrue(pending.isEmpty)

        // Rotation with the default overlap: both secrets sign.
        let firstPage = data(try await curl(["\(api)/v1/webhooks?limit=1"]))
        let hookID = try XCTUnwrap((firstPage["items"] as? [[String: Any]])?.first?["id"] as? String)
        let oldSecret = receiver.secret
        let rotatedRaw = try await curl(["-X", "POST", "\(api)/v1/webhooks/\(hookID)/rotate-secret"])
        let rotated = data(rotatedRaw)
        let newSecret = try XCTUnwrap(rotated["secret"] as? String, "\(rotated)")
        XCTAssertTrue(newSecret.hasPrefix("whsec_") && newSecret != oldSecret)
        let expires = try XCTUnwrap(rotated["previousSecretExpiresAt"] as? String)
        XCTAssertGreaterThan(try XCTUnwrap(ISO8601DateFormatter().date(from: String(expires.prefix(19)) + "Z")).timeIntervalSinceNow, 86_000, "24 h by default")
        let shown = data(try await curl(["\(api)/v1/webhooks/\(hookID)"]))
        XCTAssertNil(shown["secret"], "the secret is shown only when made")
        let duringOverlap = data(try await curl(["-X", "POST", "\(api)/v1/webhooks/\(hookID)/test"]))
        XCTAssertEqual(duringOverlap["delivered"] as? Bool, true, "\(duringOverlap)")
        let overlapRequest = try XCTUnwrap(receiver.all.first { $0.id == duringOverlap["eventId"] as? String })
        XCTAssertEqual(overlapRequest.signatureHeader.split(separator: " ").count, 2, overlapRequest.signatureHeader)
        let asSent = [StandardWebhooksVerifier.Request(id: overlapRequest.id, timestamp: overlapRequest.timestampHeader,
                                                       signature: overlapRequest.signatureHeader, body: overlapRequest.body)]
        let byOld = try await StandardWebhooksVerifier.verify(asSent, secret: oldSecret)
        XCTAssertEqual(byOld, 1, "a receiver still on the old secret accepts it")
        let byNew = try await StandardWebhooksVerifier.verify(asSent, secret: newSecret)
        XCTAssertEqual(byNew, 1, "one on the new secret too")

        // Rotation with no overlap: only the newest secret signs.
        let again = data(try await curl(["-X", "POST", "\(api)/v1/webhooks/\(hookID)/rotate-secret", "-H", "Content-Type: application/json",
                                         "--json", #"{"overlapSec":0}"#]))
        let newest = try XCTUnwrap(again["secret"] as? String, "\(again)")
        receiver.setSecret(newest)
        let afterOverlap = data(try await curl(["-X", "POST", "\(api)/v1/webhooks/\(hookID)/test"]))
        let lastRequest = try XCTUnwrap(receiver.all.first { $0.id == afterOverlap["eventId"] as? String })
        let last = [StandardWebhooksVerifier.Request(id: lastRequest.id, timestamp: lastRequest.timestampHeader, signature: lastRequest.signatureHeader,
                                                     body: lastRequest.body)]
        let byNewest = try await StandardWebhooksVerifier.verify(last, secret: newest)
        XCTAssertEqual(byNewest, 1)
        for stale in [newSecret, oldSecret] {
            do {
                try await StandardWebhooksVerifier.verify(last, secret: stale)
                XCTFail("a secret rotated out without overlap no longer signs")
            } catch is StandardWebhooksVerifier.Failure {}
        }
        let bad = data(try await curl(["-X", "POST", "\(api)/v1/webhooks/\(hookID)/rotate-secret", "-H", "Content-Type: application/json",
                                       "--json", #"{"overlapSec":-1}"#]))
        XCTAssertNotNil((bad["fields"] as? [String: Any])?["overlapSec"], "\(bad)")

        // Deleting a live channel: channel.offline with channel null, and whose it was in the session.
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        }
        let live = await receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        _ = try await curl(["-X", "DELETE", "\(api)/v1/channels/\(setup.channelID)"])
        let offline = await receiver.wait { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline)
        _ = try await publisher.value
        let event = try XCTUnwrap(receiver.all.first { $0.type == "channel.offline" })
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(event.body.utf8)) as? [String: Any])
        let eventData = try XCTUnwrap(body["data"] as? [String: Any])
        XCTAssertTrue(eventData["channel"] is NSNull, "channel is null once deleted: \(event.body)")
        let session = try XCTUnwrap(eventData["session"] as? [String: Any])
        XCTAssertEqual(session["channelId"] as? String, setup.channelID)
        XCTAssertEqual(session["userId"] as? String, "u1")
        XCTAssertEqual(session["reason"] as? String, "deleted")
        let logged = data(try await curl(["\(api)/v1/events?type=channel.offline&userId=u1"]))["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(logged.count, 1, "the event log still finds it by its user")
        // Everything since the last rotation verifies with the newest secret alone.
        let since = receiver.all.drop { $0.id != lastRequest.id }
        XCTAssertEqual(since.map(\.type).filter { $0 != "channel.media" }, ["webhook.ping", "channel.live", "channel.offline"])
        let verified = try await StandardWebhooksVerifier.verify(since.map { .init(id: $0.id, timestamp: $0.timestampHeader, signature: $0.signatureHeader, body: $0.body) },
                                                                 secret: newest)
        // Every delivery since the rotation (channel.media included, when its report came in time).
        XCTAssertEqual(verified, since.count)
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
    }
}
