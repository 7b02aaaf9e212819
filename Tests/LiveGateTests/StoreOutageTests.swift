import LiveGateModel
import ChannelStore
import Foundation
import Logging
import TestSupport
import Webhooks
import XCTest

/// Nothing is left open when the store fails (issue #11): PostgreSQL goes away (the relay the
/// gateway reaches it through is killed) while a channel is live; the publisher stops during
/// the outage; once PostgreSQL is back, the session is ended with its true reason, the
/// recording finished meanwhile becomes a video, and every event goes out.
final class StoreOutageTests: XCTestCase {
    func testAPublisherStoppingWhilePostgreSQLIsDownIsRecordedWhenItIsBack() async throws {
        let (base, targetPort) = try testPostgres()
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory("outage")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 4, in: dir)
        let port = freePorts(3)
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        url.port = port + 2
        var relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)
        defer { relay.terminate() }
        let setup = try await liveSetup(dir: dir, port: port, token: "outage",
                                        extraEnv: ["LIVEGATE_DATABASE_URL": try XCTUnwrap(url.string)], record: true)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        }
        let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .milliseconds(1500))
        relay.terminate() // PostgreSQL is gone for the gateway
        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, "ingest does not depend on the store: \(published.stderr)")
        try await Task.sleep(for: .seconds(3)) // the end and the recording fail to be written meanwhile
        XCTAssertFalse(setup.receiver.all.contains { $0.type == "channel.offline" })
        relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)

        let offline = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline, "the session was ended once the store was back")
        XCTAssertEqual(setup.receiver.events("channel.offline").first?.reason, "unpublished", "with its true reason")
        let ready = await setup.receiver.wait(timeout: 30) { $0.contains { $0.type == "video.ready" } }
        XCTAssertTrue(ready, "the recording finished during the outage was recorded")
        let channel = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)"])
        XCTAssertEqual((channel["data"] as? [String: Any])?["status"] as? String, "offline")
        // The session's figures, written when the publisher stopped (during the outage), were kept and written after.
        let sessions = try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])
        let session = try XCTUnwrap(((sessions["data"] as? [String: Any])?["items"] as? [[String: Any]])?.first)
        XCTAssertGreaterThan(session["bytesIn"] as? Int ?? 0, 50_000, "\(session)")
        XCTAssertEqual((session["connections"] as? [[String: Any]])?.first?["endReason"] as? String, "unpublished")
        let videos = try await setup.curl(["\(setup.api)/v1/videos"])
        let items = (videos["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        XCTAssertEqual(items.count, 1, "\(videos)")
        let recordings = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("recordings/\(setup.channelID)").path)
        XCTAssertEqual(recordings.filter { $0.hasSuffix(".part") }, [], "the .part goes once the video is on record")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        await setup.receiver.stop()
        await scratch.drop()
    }

    /// SIGTERM while PostgreSQL is down and a session end is waiting to be recorded: the process
    /// still stops within 10 s, keeps the end (reason and time) on disk, and the next start
    /// records it with its true reason — not `node_lost`.
    func testSIGTERMDuringAnOutageKeepsTheSessionsEndForTheNextStart() async throws {
        let (base, targetPort) = try testPostgres()
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory("outage-sigterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let port = freePorts(3)
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        url.port = port + 2
        let env = ["LIVEGATE_DATABASE_URL": try XCTUnwrap(url.string), "LIVEGATE_DATABASE_CONNECT_TIMEOUT_SEC": "30"]
        var relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)
        defer { relay.terminate() }
        let setup = try await liveSetup(dir: dir, port: port, token: "outage2", extraEnv: env)
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        }
        let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)
        relay.terminate()
        _ = try await publisher.value // a clean unpublish while the store is unreachable
        try await Task.sleep(for: .seconds(1))
        // SIGTERM is not held up by the outage: exit 0, not the shutdown watchdog's 70.
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        let shutdownLog = (try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        XCTAssertEqual(setup.gateway.terminationStatus, 0, String(shutdownLog.suffix(3000)))
        let kept = try String(contentsOf: dir.appendingPathComponent("pending-ends.json"), encoding: .utf8)
        XCTAssertTrue(kept.contains("\"unpublished\""), kept)

        relay = try TCPRelay.start(listenPort: port + 2, targetPort: targetPort)
        let (restarted, _) = try await startGateway(dir: dir, port: port, extraEnv: setup.env.merging(env) { $1 }, log: "after.log")
        defer { if restarted.isRunning { restarted.terminate() } }
        let offline = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline)
        XCTAssertEqual(setup.receiver.events("channel.offline").map(\.reason), ["unpublished"], "the true reason, not node_lost")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pending-ends.json").path))
        restarted.terminate()
        restarted.waitUntilExit()
        await setup.receiver.stop()
        await scratch.drop()
    }

    /// A delivery in flight when the store stopped (its outcome could not be recorded) is not
    /// stuck: its outcome is recorded when the store is back, and the channel's next event goes
    /// out only after it — once each, in order (issue #12: it stayed pending until a restart
    /// and was re-sent after the later event).
    func testADeliveryWhoseOutcomeCouldNotBeRecordedIsRecordedBeforeLaterEvents() async throws {
        let (base, targetPort) = try testPostgres()
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let port = freePorts(1)
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        url.port = port
        var relay = try TCPRelay.start(listenPort: port, targetPort: targetPort)
        defer { relay.terminate() }
        let store = try await StoreFactory.open(url: try XCTUnwrap(url.string), dataDir: "", logger: Logger(label: "test.store"))
        let receiver = try await WebhookReceiver.start(secret: "", answerAfter: .milliseconds(1500))
        let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        receiver.setSecret(secret)
        _ = try await store.createWebhook(id: "wh_slow", secret: secret, fields: WebhookFields(url: receiver.url), now: Date())
        let dispatcher = WebhookDispatcher(store: store, transport: AsyncHTTPClientTransport(), timeout: 5, pollInterval: .milliseconds(200),
                                           logger: Logger(label: "test.webhooks"))
        let running = Task { try await dispatcher.run() }
        for type in ["channel.live", "channel.offline"] {
            _ = try await store.appendEvent(.make(type: type, channelId: "ch_1", userId: "u", at: Date(),
                                                  data: .object(["channel": .object(["id": .string("ch_1")])])), now: Date())
        }
        dispatcher.notify()
        try await Task.sleep(for: .milliseconds(700)) // channel.live is at the receiver, not answered yet
        relay.terminate()                               // … and the store is gone when the answer comes
        try await Task.sleep(for: .seconds(2))
        XCTAssertEqual(receiver.all.map(\.type).filter { $0 != "channel.media" }, ["channel.live"], "answered during the outage; the next event waits behind it")
        relay = try TCPRelay.start(listenPort: port, targetPort: targetPort)
        let both = await receiver.wait(timeout: 20) { $0.count >= 2 }
        XCTAssertTrue(both)
        try await Task.sleep(for: .seconds(2)) // nothing is sent twice
        XCTAssertEqual(receiver.all.map(\.type).filter { $0 != "channel.media" }, ["channel.live", "channel.offline"], "once each, in order")
        var deliveries: [DeliveryRecord] = []
        for _ in 0..<40 {
            deliveries = (try? await store.deliveries(webhookId: "wh_slow", state: nil, limit: 10, cursor: nil).items) ?? []
            if deliveries.count == 2 && deliveries.allSatisfy({ $0.state == .delivered }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        XCTAssertEqual(deliveries.map(\.state), [.delivered, .delivered])
        XCTAssertEqual(deliveries.map(\.attempt), [1, 1])
        running.cancel()
        _ = await running.result
        await receiver.stop()
        await store.close()
        await scratch.drop()
    }
}

extension XCTestCase {
    /// The PostgreSQL server `make test` started (its URL and port), or a skip.
    func testPostgres() throws -> (url: String, port: Int) {
        guard let base = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"],
              let port = URLComponents(string: base)?.port else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL not set (make test starts PostgreSQL)")
        }
        return (base, port)
    }
}
