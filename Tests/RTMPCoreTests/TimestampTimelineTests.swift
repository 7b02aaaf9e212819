import RTMPCore
import XCTest

final class TimestampTimelineTests: XCTestCase {
    func testWrapAroundThirtyTwoBitsContinuesMonotonically() {
        var t = TimestampTimeline()
        XCTAssertEqual(t.next(0xFFFF_FF00), 0xFFFF_FF00)
        XCTAssertEqual(t.next(0xFFFF_FFF0), 0xFFFF_FFF0)
        XCTAssertEqual(t.next(0x0000_0010), 0x1_0000_0010)
        XCTAssertEqual(t.next(0x0000_0050), 0x1_0000_0050)
        XCTAssertEqual(t.repairs, 0)
    }

    func testNonMonotonicTimestampsAreRepairedAndCounted() {
        var t = TimestampTimeline()
        XCTAssertEqual(t.next(1000), 1000)
        XCTAssertEqual(t.next(990), 1001)   // jitter backwards
        XCTAssertEqual(t.next(1001), 1002)  // equal to the previous output: still repaired
        XCTAssertEqual(t.next(1040), 1040)  // back on the raw timeline, no drift
        XCTAssertEqual(t.repairs, 2)
    }

    func testLargeBackwardJumpRebases() {
        var t = TimestampTimeline()
        _ = t.next(3_600_000)
        XCTAssertEqual(t.next(0), 3_600_001)    // encoder clock restarted
        XCTAssertEqual(t.next(40), 3_600_041)   // continues from the new base
        XCTAssertEqual(t.repairs, 1)
    }

    func testPeekDoesNotAdvance() {
        var t = TimestampTimeline()
        XCTAssertEqual(t.peek(500), 500)
        XCTAssertEqual(t.next(500), 500)
        XCTAssertEqual(t.peek(500), 500)
        XCTAssertEqual(t.next(540), 540)
    }
}
