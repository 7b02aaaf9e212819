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

/// A flag set once, read from other tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
