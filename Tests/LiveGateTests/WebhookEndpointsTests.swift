import Foundation
import TestSupport
import XCTest

/// The webhook endpoints and the event log over HTTP on the real binary, after a real ffmpeg
/// publish (issue #12 items 4 and 7): the ping, the delivery log and redelivery with their
/// bodies checked; `/v1/events` items are exactly the bodies the receiver got; every signature
/// is checked by `standardwebhooks` from PyPI.
final class WebhookEndpointsTests: XCTestCase {
    func testPingDeliveriesRedeliverAndTheEventLogOverHTTP() async throws {
        let dir = try MediaTools.temporaryDirectory("endpoints")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "endpoints")
        let (gateway, receiver, api, channelID, key) = (setup.gateway, setup.receiver, setup.api, setup.channelID, setup.key)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        /// Status and parsed body of one request.
        func call(_ method: String, _ path: String) async throws -> (status: Int, body: [String: Any]) {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_endpoints:endpoints-secret-0123456789", "-X", method, "-w", "\n%{http_code}", api + path], timeout: 15)
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let status = Int(lines.last ?? "") ?? 0
            let json = (try? JSONSerialization.jsonObject(with: Data(lines.dropLast().joined(separator: "\n").utf8))) as? [String: Any] ?? [:]
            return (status, json)
        }
        func data(_ r: (status: Int, body: [String: Any])) -> [String: Any] { r.body["data"] as? [String: Any] ?? [:] }
        func items(_ r: (status: Int, body: [String: Any])) -> [[String: Any]] { data(r)["items"] as? [[String: Any]] ?? [] }

        let hooks = items(try await call("GET", "/v1/webhooks"))
        let webhookID = try XCTUnwrap(hooks.first?["id"] as? String)

        let published = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 30)
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let both = await receiver.wait { r in r.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(both, "live and offline arrived")

        // The ping: the receiver's answer, as the receiver saw it.
        let ping = try await call("POST", "/v1/webhooks/\(webhookID)/test")
        XCTAssertEqual(ping.status, 200, "\(ping.body)")
        let pinged = data(ping)
        XCTAssertEqual(pinged["delivered"] as? Bool, true)
        XCTAssertEqual(pinged["statusCode"] as? Int, 204)
        XCTAssertEqual(pinged["responseExcerpt"] as? String, "")
        XCTAssertGreaterThanOrEqual(pinged["latencyMs"] as? Int ?? -1, 0)
        let pingEvent = try XCTUnwrap(pinged["eventId"] as? String)
        let pingDelivery = try XCTUnwrap(pinged["deliveryId"] as? String)
        XCTAssertTrue(pingEvent.hasPrefix("evt_") && pingDelivery.hasPrefix("dlv_"))
        let pingBody = try XCTUnwrap(receiver.all.first { $0.id == pingEvent }, "the receiver got the ping")
        XCTAssertEqual(pingBody.type, "webhook.ping")
        XCTAssertTrue(pingBody.body.contains(webhookID))
        let unknownHook = try await call("POST", "/v1/webhooks/wh_nope/test")
        XCTAssertEqual(unknownHook.status, 404)

        // The event log: exactly the webhook bodies, no pings, paged and filtered like every list.
        let log = try await call("GET", "/v1/events")
        XCTAssertEqual(log.status, 200)
        let all = items(log)
        // The node's start is in the log too (node.joined, before this test's webhook existed,
        // so not delivered to it).
        XCTAssertEqual(all.first?["type"] as? String, "node.joined")
        let logged = all.filter { ($0["type"] as? String)?.hasPrefix("channel.") == true }
        XCTAssertEqual(logged.map { $0["type"] as? String }, ["channel.live", "channel.media", "channel.offline"], "no webhook.ping in the log")
        XCTAssertEqual(all.count, logged.count + 1)
        XCTAssertTrue(data(log).keys.contains("nextCursor"))
        XCTAssertTrue(data(log)["nextCursor"] is NSNull)
        for item in logged {
            XCTAssertEqual(Set(item.keys), ["id", "type", "createdAt", "seq", "data"])
            let id = try XCTUnwrap(item["id"] as? String)
            let sent = try XCTUnwrap(receiver.all.first { $0.id == id })
            let sentObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(sent.body.utf8)) as? NSDictionary)
            XCTAssertEqual(NSDictionary(dictionary: item), sentObject, "the log's item is the webhook body")
            let channel = try XCTUnwrap((item["data"] as? [String: Any])?["channel"] as? [String: Any], "data.channel")
            XCTAssertEqual(channel["id"] as? String, channelID)
            XCTAssertNil(channel["streamId"])
            XCTAssertFalse(sent.body.contains(key), "no stream key in a payload")
        }
        let allSeqs = all.compactMap { $0["seq"] as? Int }
        XCTAssertEqual(allSeqs, [allSeqs[0], allSeqs[0] + 1, allSeqs[0] + 2, allSeqs[0] + 3], "gapless")
        let seqs = logged.compactMap { $0["seq"] as? Int }
        let first = try await call("GET", "/v1/events?limit=1")
        XCTAssertEqual(items(first).map { $0["type"] as? String }, ["node.joined"])
        let cursor = try XCTUnwrap(data(first)["nextCursor"] as? String)
        let second = try await call("GET", "/v1/events?limit=1&cursor=\(cursor)")
        XCTAssertEqual(items(second).map { $0["type"] as? String }, ["channel.live"])
        let v1 = items(try await call("GET", "/v1/events?after=\(seqs[0])")).map { $0["seq"] as? Int }
        XCTAssertEqual(v1, [seqs[1], seqs[2]])
        let v2 = items(try await call("GET", "/v1/events?type=channel.offline")).count
        XCTAssertEqual(v2, 1)
        let v3 = items(try await call("GET", "/v1/events?type=channel.live,channel.offline&channelId=\(channelID)&userId=u1")).count
        XCTAssertEqual(v3, 2)
        let v4 = items(try await call("GET", "/v1/events?channelId=ch_other")).count
        XCTAssertEqual(v4, 0)
        let v5 = items(try await call("GET", "/v1/events?userId=u2")).count
        XCTAssertEqual(v5, 0)
        let v6 = items(try await call("GET", "/v1/events?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")).count
        XCTAssertEqual(v6, 4)
        let v7 = items(try await call("GET", "/v1/events?to=2000-01-01T00:00:00Z")).count
        XCTAssertEqual(v7, 0)
        let v8 = try await call("GET", "/v1/events?type=webhook.ping").status
        XCTAssertEqual(v8, 400, "not a logged type")
        let v9 = try await call("GET", "/v1/events?type=channel.exploded").status
        XCTAssertEqual(v9, 400)
        let v10 = try await call("GET", "/v1/events?cursor=zzz").status
        XCTAssertEqual(v10, 400)

        // The delivery log, newest first, with each attempt's outcome.
        let deliveries = try await call("GET", "/v1/webhooks/\(webhookID)/deliveries")
        XCTAssertEqual(deliveries.status, 200)
        let log2 = items(deliveries)
        XCTAssertEqual(log2.map { $0["eventType"] as? String }, ["webhook.ping", "channel.offline", "channel.media", "channel.live"])
        XCTAssertEqual(log2.first?["id"] as? String, pingDelivery)
        XCTAssertEqual(log2.first?["eventId"] as? String, pingEvent)
        for d in log2 {
            XCTAssertEqual(d["state"] as? String, "delivered")
            XCTAssertEqual(d["attempt"] as? Int, 1)
            XCTAssertEqual(d["statusCode"] as? Int, 204)
            XCTAssertEqual(d["webhookId"] as? String, webhookID)
            XCTAssertTrue(d["nextAttemptAt"] is NSNull, "nothing more to do")
            XCTAssertNotNil(d["latencyMs"] as? Int)
        }
        XCTAssertEqual(log2.dropFirst().map { $0["eventSeq"] as? Int }, [seqs[2], seqs[1], seqs[0]])
        let v11 = try await call("GET", "/v1/webhooks/wh_nope/deliveries").status
        XCTAssertEqual(v11, 404)

        // Redelivery: the same event again, with the same webhook-id.
        let liveDelivery = try XCTUnwrap(log2.last?["id"] as? String)
        let liveEvent = try XCTUnwrap(log2.last?["eventId"] as? String)
        let redeliver = try await call("POST", "/v1/webhooks/\(webhookID)/deliveries/\(liveDelivery)/redeliver")
        XCTAssertEqual(redeliver.status, 202, "\(redeliver.body)")
        XCTAssertEqual(data(redeliver)["id"] as? String, liveDelivery)
        XCTAssertEqual(data(redeliver)["state"] as? String, "pending")
        let again = await receiver.wait { r in r.filter { $0.id == liveEvent }.count == 2 }
        XCTAssertTrue(again, "redelivered with the same webhook-id")
        let copies = receiver.all.filter { $0.id == liveEvent }
        XCTAssertEqual(copies.first?.body, copies.last?.body, "the same body")
        let after = items(try await call("GET", "/v1/webhooks/\(webhookID)/deliveries")).first { $0["id"] as? String == liveDelivery }
        XCTAssertEqual(after?["attempt"] as? Int, 2)
        XCTAssertEqual(after?["state"] as? String, "delivered")
        let v12 = try await call("POST", "/v1/webhooks/\(webhookID)/deliveries/dlv_nope/redeliver").status
        XCTAssertEqual(v12, 404)

        let verified = try await receiver.verifyWithStandardWebhooks()
        XCTAssertEqual(verified, receiver.all.count)
        XCTAssertEqual(verified, 5, "live, media, offline, ping, the redelivered live")
        gateway.terminate()
        gateway.waitUntilExit()
        await receiver.stop()
    }

    /// Every event type the gateway sends, produced for real (ffmpeg publishes, a dead forward, a
    /// wrong key, a user limit, a webhook that keeps failing, a ping), each body checked against
    /// its schema in `/v1/openapi.json` by `jsonschema`, and the document by
    /// `openapi-spec-validator` (PyPI) — and every channel-scoped event carries `data.channel`.
    func testEveryEventTypeMatchesItsPublishedSchema() async throws {
        let dir = try MediaTools.temporaryDirectory("schemas")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let port = freePorts()
        let setup = try await liveSetup(dir: dir, port: port, token: "schemas", extraEnv: [
            "LIVEGATE_WEBHOOKS_DISABLE_AFTER_DAYS": "0.00003", // ≈ 2.6 s of failures
            "LIVEGATE_FORWARDS_FAILURE_THRESHOLD": "1", "LIVEGATE_FORWARDS_TIMEOUT_SEC": "1",
        ], record: true)
        let (gateway, receiver, api, channelID, key, curl) = (setup.gateway, setup.receiver, setup.api, setup.channelID, setup.key, setup.curl)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        func publish(_ streamKey: String) async throws -> ProcessResult {
            try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(streamKey)"], timeout: 30)
        }
        let dead = try await curl(["-X", "POST", "\(api)/v1/webhooks", "--json", #"{"url":"http://127.0.0.1:9/dead"}"#])
        let deadID = try XCTUnwrap((dead["data"] as? [String: Any])?["id"] as? String)
        _ = try await curl(["-X", "POST", "\(api)/v1/channels/\(channelID)/forwards", "--json", #"{"url":"rtmp://127.0.0.1:9/live/nowhere"}"#])

        _ = try await publish(key) // live, forward.failed, offline, video.ready
        // disconnected (killed: no unpublish), then reconnected inside the window, then offline.
        _ = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 1.5, timeoutSignal: SIGKILL)
        _ = try await publish(key)
        _ = try await publish("not-a-key") // publish_rejected without a channel
        _ = try await curl(["-X", "PUT", "\(api)/v1/users/u1/config", "--json", #"{"maxSessionSec":1}"#])
        _ = try await publish(key) // limit_exceeded, offline (limit_exceeded), video.ready
        _ = try await publish(key) // publish_rejected (limit_cooldown) with its channel
        let disabled = await receiver.wait(timeout: 20) { r in r.contains { $0.type == "webhook.disabled" } }
        XCTAssertTrue(disabled, "the dead webhook was disabled")
        let hooks = try await curl(["\(api)/v1/webhooks"])
        let ok = try XCTUnwrap(((hooks["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first { $0["id"] as? String != deadID })
        _ = try await curl(["-X", "POST", "\(api)/v1/webhooks/\(try XCTUnwrap(ok["id"] as? String))/test"])
        // video.deleted: one recording deleted through the API.
        let ready = await receiver.wait(timeout: 20) { r in r.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready)
        let videos = ((try await curl(["\(api)/v1/videos"])["data"] as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        _ = try await curl(["-X", "DELETE", "\(api)/v1/videos/\(try XCTUnwrap(videos.first?["id"] as? String))"])
        let everything = await receiver.wait(timeout: 20) { r in Set(r.map(\.type)).count == 12 }
        XCTAssertTrue(everything, "got \(Set(receiver.all.map(\.type)).sorted())")

        let deadHook = try await curl(["\(api)/v1/webhooks/\(deadID)"])
        let deadData = try XCTUnwrap(deadHook["data"] as? [String: Any])
        XCTAssertEqual(deadData["enabled"] as? Bool, false)
        XCTAssertTrue((deadData["disabledReason"] as? String)?.contains("connection refused by 127.0.0.1:9") == true, "\(deadData)")
        XCTAssertNotNil(deadData["disabledAt"] as? String)

        // Each body against its schema, the document itself validated.
        let document = try await ProcessRunner.run("curl", ["-s", "\(api)/v1/openapi.json"], timeout: 10).stdout
        let docFile = dir.appendingPathComponent("openapi.json"), bodiesFile = dir.appendingPathComponent("events.json")
        try Data(document.utf8).write(to: docFile)
        try Data(("[" + receiver.all.map(\.body).joined(separator: ",") + "]").utf8).write(to: bodiesFile)
        let python = try await StandardWebhooksVerifier.python()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let check = try await ProcessRunner.run(python, [root.appendingPathComponent("scripts/check-event-schemas.py").path, docFile.path, bodiesFile.path],
                                                timeout: 60)
        XCTAssertEqual(check.exitCode, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains(#""types": ["channel.disconnected", "channel.limit_exceeded", "channel.live", "channel.media", "channel.offline", "channel.publish_rejected", "channel.reconnected", "forward.failed", "video.deleted", "video.ready", "webhook.disabled", "webhook.ping"]"#),
                      check.stdout)

        // Channel-scoped events carry their channel, never its key.
        for r in receiver.all {
            let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])
            let data = try XCTUnwrap(body["data"] as? [String: Any])
            XCTAssertFalse(r.body.contains(key), "no stream key in \(r.type)")
            let unknownKey = r.type == "channel.publish_rejected" && data["reason"] as? String == "unknown_key"
            if r.type.hasPrefix("channel.") || r.type.hasPrefix("video.") || r.type.hasPrefix("forward."), !unknownKey {
                let channel = try XCTUnwrap(data["channel"] as? [String: Any], "\(r.type) carries data.channel")
                XCTAssertEqual(channel["id"] as? String, channelID)
                XCTAssertNil(channel["streamId"])
            }
        }
        let exceeded = try XCTUnwrap(receiver.events("channel.limit_exceeded").first)
        let exceededData = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(exceeded.body.utf8)) as? [String: Any])?["data"] as? [String: Any])
        XCTAssertEqual(exceededData["limit"] as? String, "maxSessionSec")
        XCTAssertEqual(exceededData["configured"] as? Int, 1)
        XCTAssertGreaterThanOrEqual(exceededData["value"] as? Double ?? Double(exceededData["value"] as? Int ?? 0), 1)
        XCTAssertGreaterThan((exceededData["session"] as? [String: Any])?["bytesIn"] as? Int ?? 0, 0, "the session's figures so far")
        let forward = try XCTUnwrap(receiver.events("forward.failed").first)
        XCTAssertTrue(forward.body.contains(#""url":"rtmp://127.0.0.1:9/live/nowh****""#), "the target, its key masked: \(forward.body)")
        XCTAssertTrue(forward.body.contains(#""status":"live""#), "the channel as it is: live")
        let v13 = try await receiver.verifyWithStandardWebhooks()
        XCTAssertEqual(v13, receiver.all.count)
        gateway.terminate()
        gateway.waitUntilExit()
        await receiver.stop()
    }
}
