import LiveGateModel
import ChannelStore
import Foundation
import Logging
import TestSupport
import Webhooks
import XCTest

/// Each receiver is its own lane (issue #12): with one webhook pointing where nothing listens
/// and one at a server that accepts and never answers, a healthy receiver still gets every
/// event at once and in order per channel; the refused connection fails at once with a clear
/// excerpt; the stalled one never holds more than its lane; and deleting it works mid-attempt.
final class WebhookLanesTests: XCTestCase {
    func testADeadOrStalledReceiverDelaysOnlyItsOwnLane() async throws {
        let dir = try MediaTools.temporaryDirectory("lanes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        let healthy = try await WebhookReceiver.start(secret: "")
        let stalled = try await StalledTCPServer.start()
        let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        healthy.setSecret(secret)
        _ = try await store.createWebhook(id: "wh_healthy", secret: secret, fields: WebhookFields(url: healthy.url), now: Date())
        _ = try await store.createWebhook(id: "wh_refused", secret: secret, fields: WebhookFields(url: "http://127.0.0.1:9/hook"), now: Date())
        _ = try await store.createWebhook(id: "wh_stalled", secret: secret, fields: WebhookFields(url: "http://127.0.0.1:\(stalled.port)/hook"), now: Date())
        let dispatcher = WebhookDispatcher(store: store, transport: AsyncHTTPClientTransport(), timeout: 10, pollInterval: .milliseconds(200),
                                           perWebhook: 4, overall: 64, logger: Logger(label: "test.webhooks"))
        let running = Task { try await dispatcher.run() }

        // 30 channels go live and offline: 60 events for each of the three webhooks.
        for i in 0..<30 {
            for type in ["channel.live", "channel.offline"] {
                _ = try await store.appendEvent(.make(type: type, channelId: "ch_\(i)", userId: "u", at: Date(),
                                                      data: .object(["channel": .object(["id": .string("ch_\(i)")])])), now: Date())
            }
            dispatcher.notify()
        }
        let all = await healthy.wait(timeout: 10) { $0.count >= 60 }
        XCTAssertTrue(all, "the healthy receiver got \(healthy.all.count) of 60")
        // Not held up by the stalled receiver: every event reached the healthy one while the
        // stalled lane's first attempts were still waiting out their 10 s timeout (none recorded).
        let stalledDone = try await store.deliveries(webhookId: "wh_stalled", state: nil, limit: 100, cursor: nil).items.filter { $0.attempt > 0 }
        XCTAssertTrue(stalledDone.isEmpty, "the healthy lane finished before any stalled attempt ended: \(stalledDone.map(\.state))")
        for i in 0..<30 {
            XCTAssertEqual(healthy.all.filter { $0.channelId == "ch_\(i)" }.map(\.type).filter { $0 != "channel.media" }, ["channel.live", "channel.offline"], "order of ch_\(i)")
        }
        XCTAssertTrue(healthy.all.allSatisfy(\.signatureValid))

        // The stalled receiver holds at most its lane; the refused one failed at once, and said why.
        XCTAssertLessThanOrEqual(dispatcher.attemptsInFlight["wh_stalled"] ?? 0, 4)
        let refused = try await store.deliveries(webhookId: "wh_refused", state: nil, limit: 100, cursor: nil).items.filter { $0.attempt > 0 }
        XCTAssertFalse(refused.isEmpty)
        for delivery in refused {
            XCTAssertLessThan(delivery.latencyMs ?? 99_999, 10_000, "a refused connection fails at once, not after the timeout")
            XCTAssertEqual(delivery.responseExcerpt, "connection refused by 127.0.0.1:9")
        }

        // Deleting the stalled webhook works while its attempts are in flight.
        XCTAssertGreaterThan(dispatcher.attemptsInFlight["wh_stalled"] ?? 0, 0, "attempts are in flight")
        let deleted = try await store.deleteWebhook(id: "wh_stalled")
        XCTAssertTrue(deleted)
        let drained = await eventually(20) { (dispatcher.attemptsInFlight["wh_stalled"] ?? 0) == 0 } // its attempts run out their timeout
        XCTAssertTrue(drained)
        let stalledLog = try await store.deliveries(webhookId: "wh_stalled", state: nil, limit: 100, cursor: nil).items
        XCTAssertTrue(stalledLog.isEmpty, "nothing of it is left to deliver")

        running.cancel()
        _ = await running.result
        await stalled.stop()
        await healthy.stop()
        await store.close()
    }
}
