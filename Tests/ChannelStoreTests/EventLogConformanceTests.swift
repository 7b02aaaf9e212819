import LiveGateModel
import ChannelStore
import Foundation
import XCTest

/// The event log (docs/contract.md §4 `/v1/events`, §5): `seq` is gapless and in commit order, so a reader
/// polling `?after=SEQ` never misses an event, whatever writers run at once.
extension ChannelStoreConformanceTests {
    func testConcurrentWritersAndAPollerSeeEveryEventExactlyOnceInCommitOrder() async throws {
        // Webhooks make each event's transaction longer (a delivery row each), so transactions
        // that got their number early commit late — what an insert-time sequence gets wrong.
        for i in 0..<4 {
            _ = try await store.createWebhook(id: p + "wh\(i)", secret: "whsec_x", fields: WebhookFields(url: "http://127.0.0.1:9/\(i)"), now: Date())
        }
        let store = self.store!
        let p = self.p
        let writers = 8, perWriter = 40
        let done = ManagedAtomicFlag()
        let poller = Task { () -> [StoredEvent] in
            var seen: [StoredEvent] = []
            var after: Int64 = 0
            while true {
                let finished = done.isSet
                let page = try await store.events(EventQuery(after: after, limit: 1000)).items
                seen += page
                if let last = page.last { after = last.seq }
                if finished && page.isEmpty { return seen }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        var written: [String] = []
        try await withThrowingTaskGroup(of: [String].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var ids: [String] = []
                    for n in 0..<perWriter {
                        let e = try await store.appendEvent(.make(type: "channel.live", channelId: p + "ch\(w)", userId: p + "u", at: Date(),
                                                                  data: .object(["n": .number(Double(n))])), now: Date())
                        ids.append(e.id)
                    }
                    return ids
                }
            }
            for try await ids in group { written += ids }
        }
        done.set()
        let seen = try await poller.value
        XCTAssertEqual(seen.count, writers * perWriter, "the poller saw every event once (missed \(Set(written).subtracting(seen.map(\.id)).count))")
        XCTAssertEqual(Set(seen.map(\.id)), Set(written))
        XCTAssertEqual(seen.map(\.seq), Array(1...Int64(writers * perWriter)), "gapless and increasing from 1")
        for event in seen {
            guard case .object(let body) = event.payload else { return XCTFail("event body is an object") }
            XCTAssertEqual(body["seq"], .number(Double(event.seq)), "the body's seq is the row's seq")
        }
    }
}

extension ChannelStoreConformanceTests {
    /// Each event is queued once for every enabled webhook whose three filters (event types,
    /// channel ids, user ids; empty = any) all match, and the stored body is exactly the text
    /// the event renders with its number. On PostgreSQL this runs through migration 23's
    /// function, which filters in SQL: the expectation here is written out by hand, not taken
    /// from either implementation.
    func testEachEventGoesToTheWebhooksItsFiltersMatchWithItsExactBody() async throws {
        let hooks: [(name: String, fields: WebhookFields)] = [
            ("any", WebhookFields(url: "http://127.0.0.1:9/a")),
            ("offline", WebhookFields(url: "http://127.0.0.1:9/b", events: ["channel.offline"])),
            ("chX", WebhookFields(url: "http://127.0.0.1:9/c", channelIds: [p + "X"])),
            ("userU", WebhookFields(url: "http://127.0.0.1:9/d", userIds: [p + "U"])),
            ("liveXV", WebhookFields(url: "http://127.0.0.1:9/e", events: ["channel.live"], channelIds: [p + "X"], userIds: [p + "V"])),
            ("off", WebhookFields(url: "http://127.0.0.1:9/f", enabled: false)),
        ]
        var ids: [String: String] = [:]
        for hook in hooks {
            ids[hook.name] = try await store.createWebhook(id: p + hook.name, secret: "whsec_x", fields: hook.fields, now: Date()).id
        }
        // Event → the webhooks that must get it.
        let cases: [(type: String, channel: String?, user: String?, to: Set<String>)] = [
            ("channel.live", p + "X", p + "U", ["any", "chX", "userU"]),
            ("channel.live", p + "Y", p + "U", ["any", "userU"]),
            ("channel.offline", p + "X", p + "V", ["any", "offline", "chX"]),
            ("channel.live", p + "X", p + "V", ["any", "chX", "liveXV"]),
            ("node.joined", nil, nil, ["any"]),
            // Text that looks like a number, and a quote, in the body: joined around, not into.
            ("channel.live", p + "Z", nil, ["any"]),
        ]
        var appended: [(event: NewEvent, stored: StoredEvent, to: Set<String>)] = []
        for (n, c) in cases.enumerated() {
            let data: JSONValue = .object(["n": .number(Double(n)), "note": .string("seq 111111111111111 \"quoted\""), "seq": .number(7)])
            let event = NewEvent.make(type: c.type, channelId: c.channel, userId: c.user, at: Date(), data: data)
            appended.append((event, try await store.appendEvent(event, now: Date()), c.to))
        }
        for hook in hooks {
            let got = try await store.deliveries(webhookId: ids[hook.name]!, limit: 100, cursor: nil).items
            let expected = appended.filter { $0.to.contains(hook.name) }.map(\.stored.seq)
            XCTAssertEqual(got.map(\.eventSeq).sorted(), expected, "the events webhook \(hook.name) was queued")
        }
        // The due ones carry the stored text: exactly the rendering with the assigned number.
        let due = try await store.dueDeliveries(now: Date().addingTimeInterval(60), limit: 100, webhookId: ids["any"])
        XCTAssertFalse(due.isEmpty)
        for (delivery, _, payload) in due {
            let one = try XCTUnwrap(appended.first { $0.stored.seq == delivery.eventSeq })
            XCTAssertEqual(payload, one.event.body(one.stored.seq).jsonText, "the stored body of event \(delivery.eventSeq)")
        }
        // One lane per (webhook, channel): X's second event waits behind its first.
        let lanesDue = Set(due.map(\.delivery.eventSeq))
        let onX = appended.filter { $0.event.channelId == p + "X" }.map(\.stored.seq)
        XCTAssertTrue(lanesDue.contains(onX[0]) && !lanesDue.contains(onX[1]), "only the head of channel X's lane is due: \(lanesDue) of \(onX)")
    }
}

/// A flag set once, read from other tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
