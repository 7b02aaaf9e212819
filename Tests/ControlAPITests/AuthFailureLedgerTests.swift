import LiveGateModel
@testable import ControlAPI
import Foundation
import HTTPTypes
import NIOCore
import XCTest

/// The failed-login ledger on a manual clock: the limit per address and per token id, the
/// doubling block, a new burst after a quiet minute, one log per burst, bounded memory; and
/// the client address read behind trusted proxies only.
final class AuthFailureLedgerTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func testFailuresPastTheLimitAreThrottledWithADoublingBlock() {
        var ledger = AuthFailureLedger(maxPerMinute: 3, maxBlock: 16)
        for i in 0..<3 { XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + Double(i)), .rejected) }
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 3), .throttled(seconds: 1, burstBegan: true))
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 3.5), .throttled(seconds: 2, burstBegan: false))
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 4), .throttled(seconds: 4, burstBegan: false))
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 5), .throttled(seconds: 8, burstBegan: false))
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 6), .throttled(seconds: 16, burstBegan: false))
        XCTAssertEqual(ledger.fail(["ip:a"], now: t0 + 7), .throttled(seconds: 16, burstBegan: false), "capped at maxBlock")
        XCTAssertEqual(ledger.fail(["ip:b"], now: t0 + 7), .rejected, "another address is not affected")
        XCTAssertEqual(ledger.blockedCount(now: t0 + 8), 1)
        // A quiet minute after the block ends: the next failures start a new burst from the start.
        let later = t0 + 7 + 16 + 61
        for i in 0..<3 { XCTAssertEqual(ledger.fail(["ip:a"], now: later + Double(i)), .rejected, "failure \(i) of a new minute") }
        XCTAssertEqual(ledger.fail(["ip:a"], now: later + 3), .throttled(seconds: 1, burstBegan: true), "a new burst, logged again")
    }

    func testATokenIdIsThrottledWhateverAddressesTheFailuresComeFrom() {
        var ledger = AuthFailureLedger(maxPerMinute: 2)
        XCTAssertEqual(ledger.fail(["ip:1", "token:tok_x"], now: t0), .rejected)
        XCTAssertEqual(ledger.fail(["ip:2", "token:tok_x"], now: t0 + 1), .rejected)
        XCTAssertEqual(ledger.fail(["ip:3", "token:tok_x"], now: t0 + 2), .throttled(seconds: 1, burstBegan: true))
        XCTAssertEqual(ledger.fail(["ip:3", "token:tok_y"], now: t0 + 2), .rejected)
        // Failures age out of the sliding minute.
        XCTAssertEqual(ledger.fail(["ip:9", "token:tok_x"], now: t0 + 200), .rejected)
    }

    func testZeroTurnsItOffAndTheTableIsBounded() {
        var off = AuthFailureLedger(maxPerMinute: 0)
        for i in 0..<100 { XCTAssertEqual(off.fail(["ip:a"], now: t0 + Double(i) / 100), .rejected) }
        var ledger = AuthFailureLedger(maxPerMinute: 5, capacity: 1000)
        for i in 0..<10_000 { _ = ledger.fail(["ip:10.0.\(i / 256).\(i % 256)"], now: t0 + Double(i) / 1000) }
        XCTAssertLessThanOrEqual(ledger.sources.count, 1000)
    }

    func testTheClientAddressIsReadFromXForwardedForOnlyBehindATrustedProxy() throws {
        let balancer = try SocketAddress(ipAddress: "10.0.0.5", port: 40000)
        let stranger = try SocketAddress(ipAddress: "203.0.113.9", port: 40000)
        let trusted: (SocketAddress) -> Bool = { ["10.0.0.5", "10.0.0.6"].contains($0.ipAddress ?? "") }
        func headers(_ values: String...) -> HTTPFields {
            var h = HTTPFields()
            for v in values { h.append(HTTPField(name: ClientAddress.forwardedFor, value: v)) }
            return h
        }
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: headers("198.51.100.7"), trusted: trusted), "198.51.100.7")
        XCTAssertEqual(ClientAddress.resolve(peer: stranger, headers: headers("198.51.100.7"), trusted: trusted), "203.0.113.9",
                       "a header from an untrusted peer is ignored")
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: headers("1.2.3.4, 198.51.100.7"), trusted: trusted), "198.51.100.7",
                       "what the client wrote to the left is not believed")
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: headers("1.2.3.4", "198.51.100.7, 10.0.0.6"), trusted: trusted), "198.51.100.7",
                       "trusted hops are skipped, across repeated headers")
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: HTTPFields(), trusted: trusted), "10.0.0.5", "no header: the peer")
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: headers("2001:db8::1"), trusted: trusted), "2001:db8::1")
        XCTAssertEqual(ClientAddress.resolve(peer: balancer, headers: headers("unknown"), trusted: trusted), "unknown")
    }
}
