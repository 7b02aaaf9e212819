import Foundation
import IngestCore
import XCTest

/// Refusals any peer can cause are recorded once per address, reason and minute, in bounded memory.
final class RejectionEventLimiterTests: XCTestCase {
    func testOncePerAddressAndReasonPerInterval() {
        var limiter = RejectionEventLimiter(interval: 60, capacity: 100)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertTrue(limiter.allow(.keyRotated, address: "10.0.0.1:5000", now: t0))
        XCTAssertFalse(limiter.allow(.keyRotated, address: "10.0.0.1:5001", now: t0.addingTimeInterval(1)), "another port, same address")
        XCTAssertTrue(limiter.allow(.unknownApp, address: "10.0.0.1:5002", now: t0.addingTimeInterval(2)), "another reason")
        XCTAssertTrue(limiter.allow(.keyRotated, address: "10.0.0.2:5000", now: t0.addingTimeInterval(3)), "another address")
        XCTAssertFalse(limiter.allow(.keyRotated, address: "10.0.0.1:5000", now: t0.addingTimeInterval(59.9)))
        XCTAssertTrue(limiter.allow(.keyRotated, address: "10.0.0.1:5000", now: t0.addingTimeInterval(60)))
        XCTAssertTrue(limiter.allow(.keyRotated, address: "[2001:db8::1]:1935", now: t0))
        XCTAssertFalse(limiter.allow(.keyRotated, address: "[2001:db8::1]:1936", now: t0))
        XCTAssertEqual(RejectionEventLimiter.host(of: "[::1]:5000"), "::1")
        XCTAssertEqual(RejectionEventLimiter.host(of: "unknown"), "unknown")
    }

    func testMemoryIsBoundedUnderAScan() {
        var limiter = RejectionEventLimiter(interval: 60, capacity: 100)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let recorded = (0..<1000).filter { limiter.allow(.unknownApp, address: "10.1.\($0 / 256).\($0 % 256):1", now: t0) }.count
        XCTAssertEqual(recorded, 100, "past the capacity nothing more is recorded")
        XCTAssertEqual(limiter.count, 100)
        // Once the old entries age out, new addresses are recorded again.
        XCTAssertTrue(limiter.allow(.unknownApp, address: "10.9.9.9:1", now: t0.addingTimeInterval(61)))
        XCTAssertEqual(limiter.count, 1)
    }
}
