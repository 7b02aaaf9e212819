import NIOCore
import XCTest
@testable import RTMPServer

/// `livegate_publish_decision_seconds`: each decision lands in the first bucket whose upper
/// bound holds it (bounds inclusive, as Prometheus's `le`), the buckets read back cumulative
/// with `+Inf` last, outcomes kept apart.
final class PublishDecisionTimesTests: XCTestCase {
    func testDecisionsLandInTheirBucketsAndReadBackCumulative() {
        let times = PublishDecisionTimes()
        times.record(.accepted, .microseconds(300))   // ≤ 0.0005
        times.record(.accepted, .microseconds(500))   // = 0.0005: inclusive
        times.record(.accepted, .milliseconds(4))     // ≤ 0.005
        times.record(.accepted, .seconds(9))          // beyond the last bound: +Inf only
        times.record(.refused, .microseconds(100))

        let accepted = times.snapshot(.accepted)
        XCTAssertEqual(accepted.count, 4)
        XCTAssertEqual(accepted.sum, 0.0003 + 0.0005 + 0.004 + 9, accuracy: 1e-9)
        let cumulative = accepted.cumulative
        XCTAssertEqual(cumulative.count, PublishDecisionTimes.bounds.count + 1)
        func upTo(_ bound: Double) -> UInt64? { cumulative.first { $0.0 == bound }?.1 }
        XCTAssertEqual(upTo(0.0005), 2)
        XCTAssertEqual(upTo(0.002), 2)
        XCTAssertEqual(upTo(0.005), 3)
        XCTAssertEqual(upTo(5), 3)
        XCTAssertEqual(cumulative.last?.0, .infinity)
        XCTAssertEqual(cumulative.last?.1, 4)
        XCTAssertEqual(cumulative.map(\.1), cumulative.map(\.1).sorted(), "cumulative counts never fall")
        XCTAssertEqual(times.snapshot(.refused).count, 1, "refusals are counted apart")
    }
}
