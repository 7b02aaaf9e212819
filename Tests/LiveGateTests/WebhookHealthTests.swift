import LiveGateModel
import ChannelStore
import Foundation
import Logging
import TestSupport
import Webhooks
import XCTest

/// docs/contract.md §5 / issue #12 item 3, on both stores: a webhook whose every delivery failed for
/// `webhooks.disableAfterDays` (5) is disabled — a note in its object, `webhook.disabled` to the
/// other webhooks (not to itself), no attempts while disabled; enabling it again resumes from
/// its oldest undelivered event, including what was logged while it was disabled. Driven
/// through days of the real schedule on a manual clock.
class WebhookHealthTests: XCTestCase {
    var store: SQLChannelStore!
    var cleanup: (@Sendable () async -> Void)?
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let dead = "http://dead.test/hook"
    let healthy = "http://healthy.test/hook"

    func makeStore() async throws -> SQLChannelStore {
        let dir = try MediaTools.temporaryDirectory("health")
        cleanup = { try? FileManager.default.removeItem(at: dir) }
        return try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
    }

    override func setUp() async throws { store = try await makeStore() }

    override func tearDown() async throws {
        await store?.close()
        await cleanup?()
    }

    func testAWebhookFailingForFiveDaysIsDisabledAndResumesWhenEnabled() async throws {
        let clock = ManualClock(t0)
        let transport = ScriptedTransport(clock: clock)
        transport.answer(healthy, 204)
        let secret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
        _ = try await store.createWebhook(id: "wh_dead", secret: secret, fields: WebhookFields(url: dead), now: t0)
        _ = try await store.createWebhook(id: "wh_ok", secret: secret, fields: WebhookFields(url: healthy), now: t0)
        let dispatcher = WebhookDispatcher(store: store, transport: transport, schedule: RetrySchedule(jitter: { 0 }), disableAfter: 5 * 86_400,
                                           clock: clock, logger: Logger(label: "test.webhooks"))
        var channelEvents: [StoredEvent] = []
        var disabledAt: Date?
        // Every 12 h a channel goes live; the clock moves an hour at a time for six days.
        for hour in 0...(6 * 24) {
            clock.set(t0.addingTimeInterval(TimeInterval(hour) * 3600))
            if hour % 12 == 0 {
                channelEvents.append(try await store.appendEvent(.make(type: "channel.live", channelId: "ch_\(hour)", userId: "u", at: clock.now(),
                                                                       data: .object([:])), now: clock.now()))
            }
            await dispatcher.deliverDue()
            let hook = try await store.webhook(id: "wh_dead")
            if disabledAt == nil, hook?.enabled == false { disabledAt = clock.now() }
            if hour < 5 * 24 { XCTAssertEqual(hook?.enabled, true, "still enabled after \(hour) h of failures") }
        }
        let when = try XCTUnwrap(disabledAt, "disabled within six days")
        XCTAssertGreaterThanOrEqual(when.timeIntervalSince(t0), 5 * 86_400)
        XCTAssertLessThanOrEqual(when.timeIntervalSince(t0), 5 * 86_400 + 3 * 3600, "at the first failure past 5 days (attempts every 2 h)")
        let hook = try await XCTUnwrapAsync(try await store.webhook(id: "wh_dead"))
        XCTAssertFalse(hook.enabled)
        XCTAssertEqual(hook.disabledBy, .failures)
        XCTAssertEqual(hook.failingSince, t0, "failing since its first attempt")
        XCTAssertNotNil(hook.disabledAt)
        XCTAssertTrue(hook.disabledReason?.contains("every delivery failed for 5 days") == true, hook.disabledReason ?? "nil")
        XCTAssertTrue(hook.disabledReason?.contains("connection refused by \(dead)") == true, hook.disabledReason ?? "nil")

        // The others are told, once; it is not.
        let notices = transport.calls(to: healthy).filter { $0.body.contains("\"type\":\"webhook.disabled\"") }
        XCTAssertEqual(notices.count, 1)
        let notice = try JSONSerialization.jsonObject(with: Data(notices[0].body.utf8)) as? [String: Any]
        let data = notice?["data"] as? [String: Any]
        XCTAssertEqual((data?["webhook"] as? [String: Any])?["id"] as? String, "wh_dead")
        XCTAssertEqual((data?["webhook"] as? [String: Any])?["enabled"] as? Bool, false)
        XCTAssertNil((data?["webhook"] as? [String: Any])?["secret"], "no secret in an event")
        XCTAssertEqual(data?["reason"] as? String, hook.disabledReason)
        XCTAssertFalse(transport.calls(to: dead).contains { $0.body.contains("webhook.disabled") })
        let logged = try await store.events(EventQuery(types: ["webhook.disabled"])).items
        XCTAssertEqual(logged.count, 1, "in the event log too")

        // While disabled: no attempts; what it did not get is kept, not dropped.
        let attemptsWhenDisabled = transport.calls(to: dead).count
        for _ in 0..<5 {
            clock.advance(by: 3 * 3600)
            channelEvents.append(try await store.appendEvent(.make(type: "channel.offline", channelId: "ch_0", userId: "u", at: clock.now(),
                                                                   data: .object([:])), now: clock.now()))
            await dispatcher.deliverDue()
        }
        XCTAssertEqual(transport.calls(to: dead).count, attemptsWhenDisabled, "no attempts while disabled")
        let kept = try await store.deliveries(webhookId: "wh_dead", state: nil, limit: 100, cursor: nil).items
        XCTAssertFalse(kept.contains { $0.state == .dropped }, "disabled by failures: nothing dropped")
        XCTAssertEqual(transport.calls(to: healthy).filter { $0.body.contains("channel.") }.count, channelEvents.count, "the healthy one got every event")

        // Enabled again, with the receiver back: everything it never got, oldest first per channel.
        transport.answer(dead, 200)
        let enabled = try await store.updateWebhook(id: "wh_dead", fields: WebhookFields(enabled: true), now: clock.now())
        XCTAssertEqual(enabled?.enabled, true)
        XCTAssertNil(enabled?.disabledReason)
        XCTAssertNil(enabled?.disabledAt)
        let resumedFrom = clock.now()
        for _ in 0..<20 { await dispatcher.deliverDue() }
        let resent = transport.calls(to: dead).filter { $0.at >= resumedFrom }
        XCTAssertEqual(Set(resent.map(\.eventId)), Set(channelEvents.map(\.id)),
                       "resumed from the oldest undelivered event: given-up, waiting and logged-while-disabled events alike")
        XCTAssertEqual(resent.count, channelEvents.count, "each once")
        let ch0 = channelEvents.filter { $0.channelId == "ch_0" }.map(\.id)
        XCTAssertEqual(resent.map(\.eventId).filter(ch0.contains), ch0, "ch_0's events in order")
        XCTAssertFalse(resent.contains { $0.body.contains("webhook.disabled") }, "not told of its own disabling")
        let healed = try await store.webhook(id: "wh_dead")
        XCTAssertNil(healed?.failingSince, "a delivered attempt ends the failing streak")
        let final = try await store.deliveries(webhookId: "wh_dead", state: nil, limit: 100, cursor: nil).items
        XCTAssertTrue(final.allSatisfy { $0.state == .delivered })
    }

    /// Disabled through the API: what waited is dropped; enabled again, only new events come.
    func testDisabledThroughTheAPIDropsAndDoesNotResume() async throws {
        let clock = ManualClock(t0)
        let transport = ScriptedTransport(clock: clock)
        _ = try await store.createWebhook(id: "wh_1", secret: "whsec_" + Data(repeating: 3, count: 32).base64EncodedString(),
                                          fields: WebhookFields(url: dead), now: t0)
        let dispatcher = WebhookDispatcher(store: store, transport: transport, schedule: RetrySchedule(jitter: { 0 }), clock: clock,
                                           logger: Logger(label: "test.webhooks"))
        _ = try await store.appendEvent(.make(type: "channel.live", channelId: "ch", userId: "u", at: t0, data: .object([:])), now: t0)
        await dispatcher.deliverDue()
        let off = try await store.updateWebhook(id: "wh_1", fields: WebhookFields(enabled: false), now: t0)
        XCTAssertEqual(off?.disabledReason, "disabled through the API")
        XCTAssertEqual(off?.disabledBy, .api)
        _ = try await store.appendEvent(.make(type: "channel.offline", channelId: "ch", userId: "u", at: t0, data: .object([:])), now: t0)
        transport.answer(dead, 204)
        _ = try await store.updateWebhook(id: "wh_1", fields: WebhookFields(enabled: true), now: t0)
        clock.advance(by: 60)
        await dispatcher.deliverDue()
        let states = try await store.deliveries(webhookId: "wh_1", state: nil, limit: 10, cursor: nil).items.map(\.state)
        XCTAssertEqual(states, [.dropped], "the dropped one stays dropped; the event logged while disabled is not queued")
        XCTAssertEqual(transport.all.count, 1)
    }
}

final class PostgresWebhookHealthTests: WebhookHealthTests {
    var scratch: PostgresScratchDatabase?

    override func makeStore() async throws -> SQLChannelStore {
        guard let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL and sets it")
        }
        let scratch = try await PostgresScratchDatabase.create(baseURL: url)
        self.scratch = scratch
        cleanup = { await scratch.drop() }
        return try await StoreFactory.open(url: scratch.url, dataDir: "", logger: Logger(label: "test"))
    }

    func testBackendIsPostgreSQL() { XCTAssertEqual(store.backendName, "postgres") }
}

func XCTUnwrapAsync<T>(_ value: @autoclosure () async throws -> T?, file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    let v = try await value()
    return try XCTUnwrap(v, file: file, line: line)
}
