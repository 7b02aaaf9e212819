import IngestCore
import LiveGateModel
import XCTest

final class LeaseKeepingTests: XCTestCase {
    func at(_ s: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_000_000 + s) }

    func testRenewalsResyncsAndSweepsComeDue() {
        var k = LeaseKeeping(configuration: .init(renewInterval: 2, timeToLive: 10, resyncInterval: 10), startedAt: at(0))
        XCTAssertEqual(k.due(now: at(0)), [.renew], "a renewal at once")
        XCTAssertFalse(k.renewed(at: at(0), ok: true))
        XCTAssertEqual(k.due(now: at(1)), [])
        XCTAssertEqual(k.due(now: at(2)), [.renew])
        XCTAssertEqual(k.due(now: at(9.9)), [.renew])
        XCTAssertEqual(k.due(now: at(10)), [.resync, .sweep], "healthy for a whole lease lifetime: sweeping; a resync every 10 s")
        XCTAssertEqual(k.due(now: at(11)), [.sweep])
        XCTAssertEqual(k.due(now: at(12)), [.renew, .sweep])
    }

    /// After an outage of the store every lease is stale: no sweep until renewals have
    /// succeeded again for a whole lifetime.
    func testNoSweepUntilHealthyForALifetimeAfterAnOutage() {
        var k = LeaseKeeping(configuration: .init(renewInterval: 2, timeToLive: 10, resyncInterval: nil), startedAt: at(0))
        _ = k.due(now: at(0))
        _ = k.renewed(at: at(0), ok: true)
        XCTAssertEqual(k.due(now: at(10)), [.renew, .sweep])
        XCTAssertTrue(k.renewed(at: at(10), ok: false), "the first failure is said")
        XCTAssertTrue(k.failing)
        XCTAssertEqual(k.due(now: at(12)), [.renew], "no sweep while failing")
        XCTAssertFalse(k.renewed(at: at(12), ok: false), "said once")
        XCTAssertEqual(k.due(now: at(14)), [.renew])
        XCTAssertTrue(k.renewed(at: at(14), ok: true), "back: said")
        XCTAssertFalse(k.failing)
        XCTAssertEqual(k.due(now: at(23.9)), [.renew], "healthy for 9.9 s only")
        XCTAssertEqual(k.due(now: at(24)), [.sweep])
    }
}
