import LiveGateModel
import ChannelStore
import Foundation
import LiveGate
import Logging
import RTMPServer
import TestSupport
import Webhooks
import XCTest

/// The issue-4 story end to end with real parts: channel records in a store, the real `ffmpeg`
/// publishing, the coordinator deciding, webhooks signed and POSTed to a real HTTP receiver.
final class PublishLifecycleTests: XCTestCase {
    struct Stack {
        var store: SQLChannelStore
        var coordinator: IngestCoordinator
        var dispatcher: WebhookDispatcher
        var rtmp: RTMPServer
        var port: Int
        var tasks: [Task<Void, any Error>]
        var receiver: WebhookReceiver
        var secret: String

        func url(_ key: String) -> String { "rtmp://127.0.0.1:\(port)/live/\(key)" }

        func stop() async {
            for t in tasks.reversed() { t.cancel(); _ = await t.result }
            await receiver.stop()
            await store.close()
        }
    }

    var dir: URL!
    var clip: URL!

    override func setUp() async throws {
        dir = try MediaTools.temporaryDirectory("lifecycle")
        clip = try await MediaTools.makeClip(seconds: 3, in: dir)
    }

    override func tearDown() async throws { try? FileManager.default.removeItem(at: dir) }

    func startStack(limitCooldown: TimeInterval = 60, clock: IngestClock = .system) async throws -> Stack {
        let store = try await StoreFactory.open(url: "", dataDir: dir.appendingPathComponent("data").path, logger: Logger(label: "test"))
        let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let receiver = try await WebhookReceiver.start(secret: secret)
        _ = try await store.createWebhook(id: "wh_test", secret: secret, fields: WebhookFields(url: receiver.url), now: Date())
        let dispatcher = WebhookDispatcher(store: store, transport: AsyncHTTPClientTransport(),
                                           pollInterval: .milliseconds(100), clock: clock.wall, logger: Logger(label: "test.webhooks"))
        let coordinator = IngestCoordinator(store: store, nodeId: "test-node", dispatcher: dispatcher,
                                            lifecycle: .init(limitCooldown: limitCooldown), clock: clock, logger: Logger(label: "test.ingest"))
        var config = RTMPServerConfiguration(host: "127.0.0.1", port: 0)
        config.failedPublishesPerMinute = 100
        let rtmp = RTMPServer(configuration: config, authorizer: coordinator, sink: coordinator, logger: Logger(label: "test.rtmp"))
        await coordinator.setPublishDecisionTimes(rtmp.decisionTimes)
        let tasks = [Task { try await dispatcher.run() }, Task { try await coordinator.run() }, Task { try await rtmp.run() }]
        let port = try await rtmp.waitUntilListening()
        return Stack(store: store, coordinator: coordinator, dispatcher: dispatcher, rtmp: rtmp, port: port, tasks: tasks, receiver: receiver, secret: secret)
    }

    func channel(_ stack: Stack, _ name: String, key: String, user: String = "u1", policy: Channel.DuplicatePolicy = .reject,
                 reconnect: Int = 10) async throws -> Channel {
        try await stack.store.createChannel(id: "ch_" + name, streamKey: key,
                                            fields: ChannelFields(userId: user, name: name, reconnectWindowSec: reconnect, duplicatePolicy: policy), now: Date())
    }

    func publish(_ stack: Stack, _ key: String, realtime: Bool = true, seconds: Int = 3) -> Task<ProcessResult, any Error> {
        let clip = self.clip!
        return Task {
            try await ProcessRunner.run("ffmpeg", (realtime ? ["-re"] : []) + ["-hide_banner", "-loglevel", "error", "-t", "\(seconds)", "-i", clip.path,
                                                                          "-c", "copy", "-f", "flv", stack.url(key)], timeout: 30)
        }
    }

    func testLiveThenOfflineWithSignedWebhooksAndSessionHistory() async throws {
        let stack = try await startStack()
        let ch = try await channel(stack, "show", key: "KEY_show_0123456789")
        let started = Date()
        let ffmpeg = publish(stack, "KEY_show_0123456789")
        let gotLive = await stack.receiver.wait { !$0.filter { $0.type == "channel.live" }.isEmpty }
        XCTAssertTrue(gotLive)
        let liveAt = stack.receiver.events("channel.live").first?.at ?? Date()
        let live = try await stack.store.channel(id: ch.id)
        XCTAssertEqual(live?.status, .live, "the API shows live while publishing")
        XCTAssertNotNil(live?.sessionId)

        let result = try await ffmpeg.value
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let exitedAt = Date()
        let gotOffline = await stack.receiver.wait { !$0.filter { $0.type == "channel.offline" }.isEmpty }
        XCTAssertTrue(gotOffline)
        let offline = try XCTUnwrap(stack.receiver.events("channel.offline").first)
        XCTAssertEqual(offline.reason, "unpublished")
        XCTAssertEqual(offline.channelId, ch.id)
        let all = stack.receiver.all
        XCTAssertTrue(all.allSatisfy(\.signatureValid), "every delivery carries a valid Standard Webhooks signature")
        let verified = try await stack.receiver.verifyWithStandardWebhooks()
        XCTAssertEqual(verified, all.count, "and standardwebhooks (PyPI) agrees")
        XCTAssertFalse(all.contains { $0.body.contains("KEY_show") }, "no payload carries the stream key")
        XCTAssertLessThan(stack.receiver.events("channel.live").first!.seq, offline.seq)

        let after = try await stack.store.channel(id: ch.id)
        XCTAssertEqual(after?.status, .offline)
        XCTAssertNil(after?.sessionId)
        let history = try await stack.store.sessions(channelId: ch.id, limit: 10, cursor: nil)
        XCTAssertEqual(history.items.count, 1)
        XCTAssertEqual(history.items.first?.endReason, "unpublished")
        XCTAssertGreaterThan(history.items.first?.videoFrames ?? 0, 50)
        XCTAssertTrue(history.items.first?.encoder.contains("FMLE") == true)
        // channel.media: the tracks as parsed from the sequence headers (the clip is H.264 Main
        // 320x240 at 25 fps, AAC 48 kHz stereo), after channel.live and before channel.offline;
        // the session carries them.
        let mediaEvent = try XCTUnwrap(stack.receiver.events("channel.media").first, "channel.media was sent")
        XCTAssertEqual(stack.receiver.events("channel.media").count, 1)
        XCTAssertTrue(stack.receiver.events("channel.live").first!.seq < mediaEvent.seq && mediaEvent.seq < offline.seq)
        let mediaBody = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(mediaEvent.body.utf8)) as? [String: Any])
        let mediaData = try XCTUnwrap(mediaBody["data"] as? [String: Any])
        let video = try XCTUnwrap(mediaData["video"] as? [String: Any])
        XCTAssertEqual(video["codec"] as? String, "h264")
        XCTAssertEqual(video["profile"] as? String, "Main")
        XCTAssertEqual(video["width"] as? Int, 320)
        XCTAssertEqual(video["height"] as? Int, 240)
        XCTAssertEqual(video["frameRate"] as? Double ?? 0, 25, accuracy: 0.5)
        let audio = try XCTUnwrap(mediaData["audio"] as? [String: Any])
        XCTAssertEqual(audio["codec"] as? String, "aac")
        XCTAssertEqual(audio["sampleRate"] as? Int, 48000)
        XCTAssertEqual(audio["channels"] as? Int, 2)
        guard case .object(let stored)? = history.items.first?.media, case .object(let storedVideo)? = stored["video"] else {
            return XCTFail("the session carries the media: \(String(describing: history.items.first?.media))")
        }
        XCTAssertEqual(storedVideo["width"], .number(320))
        // The receiver answers before the dispatcher records the outcome: poll the log briefly.
        var deliveries = try await stack.store.deliveries(webhookId: "wh_test", state: nil, limit: 10, cursor: nil)
        for _ in 0..<100 where !deliveries.items.allSatisfy({ $0.state == .delivered }) {
            try await Task.sleep(for: .milliseconds(20))
            deliveries = try await stack.store.deliveries(webhookId: "wh_test", state: nil, limit: 10, cursor: nil)
        }
        XCTAssertTrue(deliveries.items.allSatisfy { $0.state == .delivered && $0.statusCode == 204 })
        if let startedAt = history.items.first?.startedAt {
            print("LATENCY publish decision (session start) → channel.live at the receiver: \(Int(liveAt.timeIntervalSince(startedAt) * 1000)) ms")
        }
        print("LATENCY ffmpeg start → channel.live received: \(Int(liveAt.timeIntervalSince(started) * 1000)) ms (includes ffmpeg start-up and handshake); "
              + "ffmpeg exit → channel.offline received: \(Int(offline.at.timeIntervalSince(exitedAt) * 1000)) ms")
        await stack.stop()
    }

    func testRejectionsAnswerTheRightStatusAndEmitPublishRejected() async throws {
        let stack = try await startStack()
        let disabled = try await channel(stack, "off", key: "KEY_off")
        _ = try await stack.store.updateChannel(id: disabled.id, fields: ChannelFields(enabled: false), now: Date())
        _ = try await channel(stack, "dup", key: "KEY_dup")
        _ = try await channel(stack, "a", key: "KEY_a", user: "limited")
        _ = try await channel(stack, "b", key: "KEY_b", user: "limited")
        try await stack.store.setUserLimits(userId: "limited", UserLimits(maxConcurrentLive: 1), now: Date())

        let wrong = try await publish(stack, "KEY_wrong", realtime: false).value
        XCTAssertNotEqual(wrong.exitCode, 0)
        XCTAssertTrue(wrong.stderr.contains("NetStream.Publish.Unauthorized"), wrong.stderr)
        let off = try await publish(stack, "KEY_off", realtime: false).value
        XCTAssertTrue(off.stderr.contains("NetStream.Publish.Unauthorized"), off.stderr)

        let first = publish(stack, "KEY_dup")
        let firstLive = await stack.receiver.wait { $0.contains { $0.type == "channel.live" && $0.channelId == "ch_dup" } }
        XCTAssertTrue(firstLive)
        let second = try await publish(stack, "KEY_dup", realtime: false).value
        XCTAssertTrue(second.stderr.contains("NetStream.Publish.BadName"), second.stderr)

        let a = publish(stack, "KEY_a")
        let aLive = await stack.receiver.wait { $0.contains { $0.type == "channel.live" && $0.channelId == "ch_a" } }
        XCTAssertTrue(aLive)
        let b = try await publish(stack, "KEY_b", realtime: false).value
        XCTAssertTrue(b.stderr.contains("NetStream.Publish.Rejected: maxConcurrentLive"), b.stderr)
        let firstResult = try await first.value
        let aResult = try await a.value
        XCTAssertEqual(firstResult.exitCode, 0, "the first publisher is not disturbed by the refused duplicate")
        XCTAssertEqual(aResult.exitCode, 0)

        let rejectedOK = await stack.receiver.wait { $0.filter { $0.type == "channel.publish_rejected" }.count >= 4 }
        XCTAssertTrue(rejectedOK)
        let reasons = stack.receiver.events("channel.publish_rejected").compactMap(\.reason)
        XCTAssertEqual(Set(reasons), ["unknown_key", "disabled", "duplicate", "limit_exceeded"])

        // A key that reset-key retired: refused like any wrong key, recorded as key_rotated with
        // the channel named — once per address and minute, however often the encoder retries.
        let rotated = try await channel(stack, "rot", key: "KEY_rot")
        _ = try await stack.store.resetStreamKey(id: rotated.id, newKey: "KEY_rot_new", now: Date())
        for _ in 0..<2 {
            let old = try await publish(stack, "KEY_rot", realtime: false).value
            XCTAssertTrue(old.stderr.contains("NetStream.Publish.Unauthorized"), old.stderr)
        }
        // An application other than `live`: refused at connect, recorded as unknown_app, also once.
        for _ in 0..<2 {
            let other = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-t", "1", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(stack.port)/other/KEY_a"], timeout: 30)
            XCTAssertNotEqual(other.exitCode, 0)
        }
        let recorded = await stack.receiver.wait {
            $0.contains { $0.reason == "key_rotated" } && $0.contains { $0.reason == "unknown_app" }
        }
        XCTAssertTrue(recorded)
        try await Task.sleep(for: .milliseconds(300)) // a second event, if one were sent, is on its way
        let rotatedEvents = stack.receiver.events("channel.publish_rejected").filter { $0.reason == "key_rotated" }
        XCTAssertEqual(rotatedEvents.count, 1)
        XCTAssertEqual(rotatedEvents.first?.channelId, "ch_rot", "the channel is named")
        XCTAssertFalse(rotatedEvents.first?.body.contains("KEY_rot") == true, "no key in the event")
        let appEvents = stack.receiver.events("channel.publish_rejected").filter { $0.reason == "unknown_app" }
        XCTAssertEqual(appEvents.count, 1)
        XCTAssertTrue(appEvents.first?.body.contains(#""app":"other""#) == true, appEvents.first?.body ?? "")
        XCTAssertTrue(appEvents.first?.body.contains("NetConnection.Connect.Rejected") == true, appEvents.first?.body ?? "")
        await stack.stop()
    }

    func testReplacePolicyKeepsOneSessionAndReconnectWindowBridgesADrop() async throws {
        let stack = try await startStack()
        _ = try await channel(stack, "rep", key: "KEY_rep", policy: .replace, reconnect: 2)
        let old = publish(stack, "KEY_rep", seconds: 3)
        let live = await stack.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .milliseconds(500))
        let new = publish(stack, "KEY_rep", seconds: 2)
        let oldResult = try await old.value
        XCTAssertNotEqual(oldResult.exitCode, 0, "the replaced publisher was closed by the server, not at its clip's end")
        _ = try await new.value
        let ended = await stack.receiver.wait { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(ended)
        XCTAssertEqual(stack.receiver.events("channel.live").count, 1, "replacement continues the session: no offline/live pair")
        XCTAssertEqual(stack.receiver.events("channel.offline").first?.reason, "unpublished")
        // The replaced connection says so in the session's history; the replacing one unpublished.
        let first = try await stack.store.sessions(channelId: "ch_rep", limit: 10, cursor: nil, descending: true).items.first
        XCTAssertEqual(first?.connections.map(\.endReason), ["replaced", "unpublished"])

        // A publisher that drops without unpublishing (killed: the TCP connection closes without
        // FCUnpublish) and comes back inside the 2 s window: reconnecting, then the same session.
        let dropped: [String] = ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv", stack.url("KEY_rep")]
        _ = try await ProcessRunner.run("ffmpeg", dropped, timeout: 1.2, timeoutSignal: SIGKILL)
        let disconnected = await stack.receiver.wait(timeout: 5) { $0.contains { $0.type == "channel.disconnected" } }
        XCTAssertTrue(disconnected, "channel.disconnected when the window opens")
        let during = try await stack.store.channel(id: "ch_rep")
        XCTAssertEqual(during?.status, .reconnecting, "the channel itself says reconnecting, not live")
        _ = try await ProcessRunner.run("ffmpeg", dropped, timeout: 1.2, timeoutSignal: SIGKILL)
        let droppedAt = Date()
        let reconnected = await stack.receiver.wait(timeout: 5) { $0.contains { $0.type == "channel.reconnected" } }
        XCTAssertTrue(reconnected, "channel.reconnected: the same session goes on")
        // Nobody comes back the second time: offline once the window is over, ended at the drop.
        let offline2 = await stack.receiver.wait(timeout: 8) { $0.filter { $0.type == "channel.offline" }.count == 2 }
        XCTAssertTrue(offline2)
        XCTAssertEqual(stack.receiver.events("channel.live").count, 2, "the reconnect made no new session")
        XCTAssertEqual(stack.receiver.events("channel.disconnected").count, 2)
        let last = stack.receiver.events("channel.offline").last
        XCTAssertEqual(last?.reason, "connection_closed")
        XCTAssertGreaterThanOrEqual(last!.at.timeIntervalSince(droppedAt), 1.5, "waited for the reconnect window")
        let session = try await stack.store.sessions(channelId: "ch_rep", limit: 10, cursor: nil, descending: true).items.first
        let endedAt = try XCTUnwrap(session?.endedAt)
        XCTAssertLessThan(abs(endedAt.timeIntervalSince(droppedAt)), 1.0, "the session ended at the drop, not when the window closed")
        XCTAssertEqual(session?.connections.count, 2)
        let after = try await stack.store.channel(id: "ch_rep")
        XCTAssertEqual(after?.status, .offline)
        await stack.stop()
    }

    /// The reconnect window on the coordinator's injected clock: a 300 s window opens when a
    /// real ffmpeg publisher is killed, stays open at 299 s and closes at 300 s — driven by
    /// `tick()`, no waiting — and the session ends at the drop, not at the window's end.
    func testTheReconnectWindowRunsOnTheInjectedClock() async throws {
        let wall = ManualWallClock()
        let t0 = wall.now()
        let stack = try await startStack(clock: .manual(wall))
        _ = try await channel(stack, "win", key: "KEY_win", reconnect: 300)
        _ = try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   stack.url("KEY_win")], timeout: 1.2, timeoutSignal: SIGKILL)
        let disconnected = await stack.receiver.wait(timeout: 5) { $0.contains { $0.type == "channel.disconnected" } }
        XCTAssertTrue(disconnected)
        let body = try XCTUnwrap(stack.receiver.events("channel.disconnected").first?.body)
        XCTAssertTrue(body.contains(#""windowEndsAt":"\#(Timestamp.format(t0.addingTimeInterval(300)))""#), body)

        wall.advance(by: 299)
        await stack.coordinator.tick()
        let open = try await stack.store.channel(id: "ch_win")
        XCTAssertEqual(open?.status, .reconnecting, "the window is still open at 299 s")
        wall.advance(by: 1)
        await stack.coordinator.tick()
        let closed = try await stack.store.channel(id: "ch_win")
        XCTAssertEqual(closed?.status, .offline)
        let session = try await stack.store.sessions(channelId: "ch_win", limit: 1, cursor: nil, descending: true).items.first
        XCTAssertEqual(session?.startedAt, t0)
        XCTAssertEqual(session?.endedAt, t0, "ended when the publisher left (the clock stood still until then)")
        XCTAssertEqual(session?.endReason, "connection_closed")
        let offline = try await stack.store.events(EventQuery(types: ["channel.offline"], limit: 10)).items
        XCTAssertEqual(offline.count, 1, "closed at 300 s, once")
        XCTAssertEqual(offline.first?.createdAt, t0.addingTimeInterval(300), "recorded when the window closed")
        // The dispatcher reads the same manual clock, so the event dated 300 s ahead is due and delivered.
        let delivered = await stack.receiver.wait(timeout: 5) { $0.contains { $0.type == "channel.offline" && $0.reason == "connection_closed" } }
        XCTAssertTrue(delivered)
        await stack.stop()
    }

    /// `maxSessionSec` and the cooldown after it on the injected clock, with a real publisher:
    /// at 60 s the session is cut, the channel refuses publishes until 60 s after that end, and
    /// accepts again once the clock passes it — no waiting for either minute.
    func testMaxSessionSecAndItsCooldownRunOnTheInjectedClock() async throws {
        let wall = ManualWallClock()
        let t0 = wall.now()
        let stack = try await startStack(limitCooldown: 60, clock: .manual(wall))
        _ = try await channel(stack, "cap", key: "KEY_cap", user: "capped")
        try await stack.store.setUserLimits(userId: "capped", UserLimits(maxSessionSec: 60), now: Date())
        let arguments = ["-re", "-hide_banner", "-loglevel", "error", "-stream_loop", "-1", "-i", clip.path, "-t", "30",
                         "-c", "copy", "-f", "flv", stack.url("KEY_cap")]
        let first = Task { try await ProcessRunner.run("ffmpeg", arguments, timeout: 40) }
        let live = await stack.receiver.wait(timeout: 10) { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        wall.advance(by: 59)
        await stack.coordinator.tick()
        let stillLive = try await stack.store.channel(id: "ch_cap")
        XCTAssertEqual(stillLive?.status, .live, "59 s: under the limit")
        wall.advance(by: 1)
        await stack.coordinator.tick()
        let cut = try await first.value
        XCTAssertNotEqual(cut.exitCode, 0, "cut off at 60 s")
        XCTAssertFalse(cut.timedOut)
        var ended: Channel?
        for _ in 0..<100 {
            ended = try await stack.store.channel(id: "ch_cap")
            if ended?.status == .offline { break }
            try await Task.sleep(for: .milliseconds(20)) // the end is written after the kick lands
        }
        XCTAssertEqual(ended?.status, .offline)
        XCTAssertEqual(ended?.cooldownLimit, .maxSessionSec)
        XCTAssertEqual(ended?.cooldownUntil, t0.addingTimeInterval(120), "60 s after the session's end")
        let session = try await stack.store.sessions(channelId: "ch_cap", limit: 1, cursor: nil, descending: true).items.first
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(60))
        XCTAssertEqual(session?.endReason, "limit_exceeded")
        let exceeded = try await stack.store.events(EventQuery(types: ["channel.limit_exceeded"], limit: 10)).items
        XCTAssertEqual(exceeded.count, 1)
        XCTAssertEqual(exceeded.first?.createdAt, t0.addingTimeInterval(60))

        wall.advance(by: 59)
        let refused = try await publish(stack, "KEY_cap", realtime: false, seconds: 1).value
        XCTAssertTrue(refused.stderr.contains("NetStream.Publish.Rejected") && refused.stderr.contains("maxSessionSec"), refused.stderr)
        wall.advance(by: 1.5)
        await stack.coordinator.tick()
        let again = try await publish(stack, "KEY_cap", realtime: false, seconds: 1).value
        XCTAssertEqual(again.exitCode, 0, "the cooldown is over: \(again.stderr)")
        await stack.stop()
    }

    func testLimitsExceededDuringASessionWarnThenDisconnect() async throws {
        let stack = try await startStack()
        _ = try await channel(stack, "long", key: "KEY_long", user: "lim1")
        try await stack.store.setUserLimits(userId: "lim1", UserLimits(maxSessionSec: 1), now: Date())
        _ = try await channel(stack, "codec", key: "KEY_codec", user: "lim2")
        try await stack.store.setUserLimits(userId: "lim2", UserLimits(maxWidth: 1920, allowedVideoCodecs: ["hevc"]), now: Date())

        let long = try await publish(stack, "KEY_long", seconds: 3).value
        XCTAssertNotEqual(long.exitCode, 0, "disconnected by the server once maxSessionSec passed")
        let codec = try await publish(stack, "KEY_codec", seconds: 3).value
        XCTAssertNotEqual(codec.exitCode, 0, "an H.264 stream is refused by allowedVideoCodecs")

        let both = await stack.receiver.wait { $0.filter { $0.type == "channel.offline" }.count == 2 }
        XCTAssertTrue(both)
        for (channel, limit) in [("ch_long", "maxSessionSec"), ("ch_codec", "allowedVideoCodecs")] {
            let events = stack.receiver.all.filter { $0.channelId == channel && $0.type != "channel.media" }
            XCTAssertEqual(events.map(\.type), ["channel.live", "channel.limit_exceeded", "channel.offline"], channel)
            XCTAssertTrue(events[1].body.contains("\"limit\":\"\(limit)\""), events[1].body)
            XCTAssertEqual(events[2].reason, "limit_exceeded")
        }
        await stack.stop()
    }

    /// A limit that ended a session refuses that channel for `ingest.limitCooldownSec`: an
    /// encoder that reconnects at once gets `NetStream.Publish.Rejected` naming the limit, within
    /// 2 s and without going live (used to loop live → limit_exceeded → offline for ever), with
    /// one `channel.publish_rejected` per minute at most; after the cooldown it publishes again.
    func testLimitCooldownStopsAReconnectLoop() async throws {
        let stack = try await startStack(limitCooldown: 300)
        _ = try await channel(stack, "loop", key: "KEY_loop", user: "lim4")
        try await stack.store.setUserLimits(userId: "lim4", UserLimits(maxFps: 120, allowedVideoCodecs: ["hevc"]), now: Date())
        let first = try await publish(stack, "KEY_loop", seconds: 3).value
        XCTAssertNotEqual(first.exitCode, 0)
        let ended = await stack.receiver.wait { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(ended)
        // The cooldown is stored with the channel (every node enforces it) and the offline event shows it.
        let cooled = try await stack.store.channel(id: "ch_loop")
        XCTAssertEqual(cooled?.cooldownLimit, .allowedVideoCodecs)
        let until = try XCTUnwrap(cooled?.cooldownUntil)
        XCTAssertEqual(until.timeIntervalSinceNow, 300, accuracy: 10)
        XCTAssertTrue(stack.receiver.events("channel.offline").first?.body.contains("\"cooldownLimit\":\"allowedVideoCodecs\"") == true)
        // The encoder comes straight back, three times.
        for _ in 0..<3 {
            let again = try await publish(stack, "KEY_loop", seconds: 3).value
            XCTAssertNotEqual(again.exitCode, 0)
            XCTAssertTrue(again.stderr.contains("NetStream.Publish.Rejected") && again.stderr.contains("allowedVideoCodecs"), again.stderr)
        }
        let rejected = await stack.receiver.wait { $0.contains { $0.type == "channel.publish_rejected" } }
        XCTAssertTrue(rejected)
        let events = stack.receiver.all.filter { $0.channelId == "ch_loop" && $0.type != "channel.media" }
        XCTAssertEqual(events.map(\.type), ["channel.live", "channel.limit_exceeded", "channel.offline", "channel.publish_rejected"],
                       "one live, one offline, one rejection event for three refused publishes")
        XCTAssertTrue(events.last?.body.contains("\"reason\":\"limit_cooldown\"") == true, events.last?.body ?? "")
        XCTAssertTrue(events[1].body.contains("\"configured\":[\"hevc\"]") && events[1].body.contains("\"value\":\"h264\""), events[1].body)
        // Tightening another limit leaves the cooldown alone.
        try await stack.store.setUserLimits(userId: "lim4", UserLimits(maxFps: 60, allowedVideoCodecs: ["hevc"]), now: Date())
        await stack.coordinator.userLimitsChanged("lim4")
        let stillCooling = try await stack.store.channel(id: "ch_loop")
        XCTAssertNotNil(stillCooling?.cooldownUntil)
        // Widening the limit that started it ends the cooldown at once, on every node: no waiting out the 300 s.
        try await stack.store.setUserLimits(userId: "lim4", UserLimits(maxFps: 60, allowedVideoCodecs: ["hevc", "h264"]), now: Date())
        await stack.coordinator.userLimitsChanged("lim4")
        let cleared = try await stack.store.channel(id: "ch_loop")
        XCTAssertNil(cleared?.cooldownUntil)
        XCTAssertNil(cleared?.cooldownLimit)
        let after = try await publish(stack, "KEY_loop", seconds: 2).value
        XCTAssertEqual(after.exitCode, 0, after.stderr)
        let done = await stack.receiver.wait { $0.filter { $0.type == "channel.offline" }.count == 2 }
        XCTAssertTrue(done)
        await stack.stop()
    }

    /// Key reset, disable and delete through the API end the running session with that reason.
    func testKeyResetDisableAndDeleteKickThePublisher() async throws {
        let stack = try await startStack()
        for (i, reason) in ["key_reset", "disabled", "deleted"].enumerated() {
            let ch = try await channel(stack, "k\(i)", key: "KEY_k\(i)")
            let ffmpeg = publish(stack, "KEY_k\(i)", seconds: 3)
            let live = await stack.receiver.wait { $0.contains { $0.type == "channel.live" && $0.channelId == ch.id } }
            XCTAssertTrue(live)
            switch reason {
            case "key_reset": _ = try await stack.store.resetStreamKey(id: ch.id, newKey: "KEY_new\(i)", now: Date())
            case "disabled": _ = try await stack.store.updateChannel(id: ch.id, fields: ChannelFields(enabled: false), now: Date())
            default: _ = try await stack.store.deleteChannel(id: ch.id)
            }
            await stack.coordinator.channelChanged(ch.id, change: ChannelChange(rawValue: reason)!) // what the API calls after the change
            let result = try await ffmpeg.value
            XCTAssertNotEqual(result.exitCode, 0, "\(reason): closed by the server")
            let offline = await stack.receiver.wait { $0.contains { $0.type == "channel.offline" && $0.channelId == ch.id } }
            XCTAssertTrue(offline, reason)
            XCTAssertEqual(stack.receiver.events("channel.offline", channel: ch.id).first?.reason, reason)
        }
        await stack.stop()
    }

    /// `/v1/channels/{id}/stats` is measured from the media: 25 fps, a 2 s GOP, 320x240 H.264 Main.
    func testLiveStatsAreMeasuredFromTheMedia() async throws {
        let stack = try await startStack()
        let ch = try await channel(stack, "stats", key: "KEY_stats")
        // A refused publish first, so the rejection counter is set before the live stream is sampled.
        _ = try await publish(stack, "KEY_nope", realtime: false, seconds: 1).value
        let ffmpeg = publish(stack, "KEY_stats", seconds: 3)
        try await Task.sleep(for: .milliseconds(2600))
        let measured = await stack.coordinator.channelStats(ch.id)
        let stats = try XCTUnwrap(measured)
        XCTAssertEqual(stats.status, "live")
        XCTAssertEqual(stats.fps, 25, accuracy: 3)
        XCTAssertGreaterThan(stats.bitrateKbps10s, 10)
        XCTAssertEqual(try XCTUnwrap(stats.keyframeIntervalSec), 2, accuracy: 0.05)
        XCTAssertGreaterThan(stats.videoFrames, 40)
        XCTAssertEqual(stats.video?.codec, "h264")
        XCTAssertEqual(stats.video?.profile, "Main")
        XCTAssertEqual(stats.video?.width, 320)
        XCTAssertEqual(stats.audio?.sampleRate, 48000)
        let summary = await stack.coordinator.ingestSummary().objectValue
        XCTAssertEqual(summary?["liveChannels"], .number(1))

        // /metrics: parse the text format; channel ids as labels, never keys.
        let text = await stack.coordinator.prometheusText()
        let samples = try Self.parsePrometheus(text)
        XCTAssertFalse(text.contains("KEY_stats"), "no stream key in metrics")
        XCTAssertEqual(samples["livegate_live_channels"]?[""], 1)
        XCTAssertEqual(samples["livegate_publish_rejections_total"]?["reason=unknown_key"], 1)
        // Each decision timed in the server, by outcome: the refusal and the accept, one each.
        XCTAssertEqual(samples["livegate_publish_decision_seconds_count"]?["outcome=refused"], 1)
        XCTAssertEqual(samples["livegate_publish_decision_seconds_count"]?["outcome=accepted"], 1)
        XCTAssertEqual(samples["livegate_publish_decision_seconds_bucket"]?["outcome=accepted,le=+Inf"], 1)
        XCTAssertGreaterThan(samples["livegate_publish_decision_seconds_sum"]?["outcome=accepted"] ?? 0, 0)
        XCTAssertEqual(samples["livegate_channel_fps"]?["channel=\(ch.id)"] ?? 0, 25, accuracy: 3)
        XCTAssertGreaterThan(samples["livegate_channel_ingest_bytes_total"]?["channel=\(ch.id)"] ?? 0, 10_000)
        XCTAssertEqual(samples["livegate_channel_keyframe_interval_seconds"]?["channel=\(ch.id)"] ?? 0, 2, accuracy: 0.05)
        _ = try await ffmpeg.value
        try await Task.sleep(for: .milliseconds(300))
        let after = await stack.coordinator.channelStats(ch.id)
        XCTAssertNil(after, "not live any more")
        await stack.stop()
    }

    /// A strict-enough parser of the Prometheus text format: every sample's family has a TYPE
    /// line before it; returns family → "k=v,…" → value.
    static func parsePrometheus(_ text: String) throws -> [String: [String: Double]] {
        var types: [String: String] = [:]
        var out: [String: [String: Double]] = [:]
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$"#)
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                XCTAssertEqual(parts.count, 4, String(line))
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let m = try sample.wholeMatch(in: String(line)) else { XCTFail("not a sample line: \(line)"); continue }
            let name = String(m.output[1].substring ?? "")
            // A histogram's lines are its name with _bucket, _sum or _count.
            let family = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) && types[String(name.dropLast($0.count))] == "histogram" }
                .map { String(name.dropLast($0.count)) } ?? name
            XCTAssertNotNil(types[family], "\(name) has no TYPE line")
            let labels = (m.output[2].substring.map(String.init) ?? "").replacingOccurrences(of: "\"", with: "")
            out[name, default: [:]][labels] = Double(m.output[3].substring ?? "")
        }
        return out
    }
}
