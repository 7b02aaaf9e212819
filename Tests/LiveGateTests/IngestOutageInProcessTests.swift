import ChannelStore
import Foundation
import LiveGate
import LiveGateModel
import RTMPCore
import RTMPServer
import XCTest

/// The coordinator while its store is out (docs/contract.md §2, "When the store is out"),
/// in-process on a manual clock: nothing it decided is lost, and what it writes afterwards keeps
/// its true times and its order.
final class IngestOutageInProcessTests: XCTestCase {
    /// An end the store refused is asked for again by the machine's tick until the store is
    /// back, written once, dated when the publisher left; the connection's figures go first.
    func testAnEndTheStoreRefusesIsRetriedWithItsTime() async throws {
        let bench = try await IngestBench("end-retry", flaky: true)
        defer { Task { await bench.close() } }
        let flaky = try XCTUnwrap(bench.flaky)
        let ch = try await bench.channel("e", key: "KEY_e_0123456789")
        let t0 = bench.wall.now()
        await bench.goLive("KEY_e_0123456789", connection: 1)
        await bench.advance(5)
        flaky.down = true
        await bench.end(1, .unpublished)
        for _ in 0..<30 { await bench.advance(1) }
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live, "not recorded while the store is out")
        flaky.down = false
        await bench.advance(1)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline, "recorded on the first tick after")
        let session = try await bench.lastSession(ch.id)
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(5), "dated at the unpublish, not at the write")
        XCTAssertEqual(session?.connections.map(\.endReason), ["unpublished"], "the connection's figures were written first")
        let offline = try await bench.events("channel.offline", channel: ch.id)
        XCTAssertEqual(offline.count, 1)
        XCTAssertEqual(offline.first?.data["session"]?["reason"]?.stringValue, "unpublished")
    }

    /// A publish refused because the store is out is recorded once it is back — once per
    /// address and minute (any peer can cause it), every refusal counted in the metric.
    func testRefusalsDuringAnOutageAreRecordedWhenTheStoreIsBack() async throws {
        let bench = try await IngestBench("refusals", flaky: true)
        defer { Task { await bench.close() } }
        let flaky = try XCTUnwrap(bench.flaky)
        try await bench.channel("o", key: "KEY_o_0123456789")
        flaky.down = true
        for connection in UInt64(1)...3 {
            let decision = await bench.publish("KEY_o_0123456789", connection: connection, remote: "10.0.0.9:4000")
            XCTAssertEqual(decision, .reject(.error(.publishRejected, "temporarily unavailable")))
        }
        let other = await bench.publish("KEY_o_0123456789", connection: 4, remote: "10.0.0.10:4000")
        XCTAssertEqual(other, .reject(.error(.publishRejected, "temporarily unavailable")))
        var metrics = await bench.node().coordinator.prometheusText()
        XCTAssertTrue(metrics.contains("livegate_publish_rejections_total{reason=\"unavailable\"} 4"), metrics)
        XCTAssertTrue(metrics.contains("livegate_store_writes_pending 2"), metrics)
        let none = try await bench.events("channel.publish_rejected")
        XCTAssertEqual(none.count, 0)
        flaky.down = false
        await bench.advance(1)
        let refused = try await bench.events("channel.publish_rejected")
        XCTAssertEqual(refused.map { $0.data["remoteAddr"]?.stringValue }, ["10.0.0.9:4000", "10.0.0.10:4000"], "one per address, in order")
        XCTAssertEqual(Set(refused.map { $0.data["reason"]?.stringValue }), ["unavailable"])
        metrics = await bench.node().coordinator.prometheusText()
        XCTAssertTrue(metrics.contains("livegate_store_writes_pending 0"), metrics)
        let after = await bench.publish("KEY_o_0123456789", connection: 5)
        XCTAssertEqual(after, .accept, "and publishing works again")
    }

    /// The window opened while the store was out: `reconnecting` and `channel.disconnected` are
    /// written on the next tick after it is back (not lost), and the window still closes.
    func testALeaseStateTheStoreRefusedIsWrittenWhenItIsBack() async throws {
        let bench = try await IngestBench("lease-retry", flaky: true)
        defer { Task { await bench.close() } }
        let flaky = try XCTUnwrap(bench.flaky)
        let ch = try await bench.channel("d", key: "KEY_d_0123456789", window: 10)
        let t0 = bench.wall.now()
        await bench.goLive("KEY_d_0123456789", connection: 1)
        flaky.down = true
        await bench.advance(2)
        await bench.end(1, .connectionClosed)
        await bench.advance(2)
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live, "not written yet")
        flaky.down = false
        await bench.advance(1)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .reconnecting)
        let disconnected = try await bench.events("channel.disconnected", channel: ch.id)
        XCTAssertEqual(disconnected.count, 1)
        XCTAssertEqual(disconnected.first?.data["windowEndsAt"]?.stringValue, Timestamp.format(t0.addingTimeInterval(12)), "the window as it opened")
        await bench.advance(7)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline)
        let session = try await bench.lastSession(ch.id)
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(2), "ended when the publisher left")
    }

    /// A node stops (SIGTERM) just after the store refused, once, the `reconnecting` lease state
    /// of a publisher the listener let go (a timeout under load; the store is otherwise up) — the
    /// tick that would retry it has stopped. The stop writes it before handing the sessions over:
    /// the session waits for its publisher, which any node may continue, instead of ending with
    /// `shutdown` (docs/contract.md §6, SIGTERM).
    func testAStopWritesALeaseStateTheStoreJustRefusedBeforeHandingOver() async throws {
        let bench = try await IngestBench("stop-lease", flaky: true)
        defer { Task { await bench.close() } }
        let flaky = try XCTUnwrap(bench.flaky)
        let ch = try await bench.channel("h", key: "KEY_h_0123456789", window: 30)
        let other = try await bench.channel("k", key: "KEY_k_0123456789", window: 30)
        await bench.goLive("KEY_h_0123456789", connection: 1)
        await bench.goLive("KEY_k_0123456789", connection: 2)
        flaky.failNext("markLease")
        await bench.end(1, .shutdown)
        await bench.end(2, .shutdown)
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live, "the first write was refused")
        let otherStored = try await bench.store.channel(id: other.id)
        XCTAssertEqual(otherStored?.status, .reconnecting, "the other channel's was not")
        await bench.node().stop()

        for id in [ch.id, other.id] {
            stored = try await bench.store.channel(id: id)
            XCTAssertEqual(stored?.status, .reconnecting, "\(id): handed over, its publisher may come back inside the window")
            let lease = try await bench.store.lease(channelId: id)
            XCTAssertEqual(lease?.state, .reconnecting, id)
            XCTAssertEqual(lease?.endReason, "shutdown", id)
            let session = try await bench.lastSession(id)
            XCTAssertNotNil(session, id)
            XCTAssertNil(session?.endedAt, "\(id): not ended")
            let types = try await bench.types(channel: id)
            XCTAssertEqual(types.filter { $0 == "channel.disconnected" }.count, 1, "\(id): \(types)")
            XCTAssertFalse(types.contains("channel.offline"), "\(id): \(types)")
        }
    }
}
