import Foundation
import IngestCore
import LiveGateModel
import XCTest

/// The cross-node half of docs/contract.md §2's table, row by row, as the store's transaction
/// asks it (the store's carrying-out is `LeaseConformanceTests`, on SQLite and PostgreSQL).
final class CrossNodeDecisionTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func lease(_ state: SessionLease.State, expiresIn: TimeInterval = 8, windowEndsIn: TimeInterval? = nil, reason: String? = nil) -> SessionLease {
        SessionLease(channelId: "ch", sessionId: "ses", nodeId: "node-a", state: state, windowEndsAt: windowEndsIn.map { now.addingTimeInterval($0) },
                     endReason: reason, expiresAt: now.addingTimeInterval(expiresIn))
    }

    func decide(_ lease: SessionLease, takeOver: Bool = false) -> LeaseVerdict {
        CrossNodeDecision.decide(LeaseFacts(lease: lease, now: now, takeOver: takeOver))
    }

    func testALiveSessionElsewhereIsBusyUnderRejectAndTakenOverUnderReplace() {
        XCTAssertEqual(decide(lease(.live)), .busy(node: "node-a"))
        XCTAssertEqual(decide(lease(.live), takeOver: true), .continueHere(replaced: true))
    }

    func testAReconnectInsideTheWindowContinuesWhateverThePolicy() {
        XCTAssertEqual(decide(lease(.reconnecting, windowEndsIn: 5, reason: "connection_closed")), .continueHere(replaced: false))
        XCTAssertEqual(decide(lease(.reconnecting, windowEndsIn: 5), takeOver: true), .continueHere(replaced: false))
    }

    func testAClosedWindowEndsTheSessionWithItsReasonFirst() {
        XCTAssertEqual(decide(lease(.reconnecting, windowEndsIn: 0, reason: "media_timeout")), .endThenRetry(reason: .mediaTimeout))
        XCTAssertEqual(decide(lease(.reconnecting, windowEndsIn: -1, reason: nil)), .endThenRetry(reason: .connectionClosed))
        XCTAssertEqual(decide(lease(.reconnecting, windowEndsIn: -1, reason: "nonsense")), .endThenRetry(reason: .connectionClosed))
    }

    /// A session its node handed over (stopping for a restart) or whose node died while its
    /// publisher was away: inside the window it is continued here, whoever renews the lease.
    func testAReconnectingSessionOfAStoppedNodeIsContinuedInsideItsWindow() {
        XCTAssertEqual(decide(lease(.reconnecting, expiresIn: -30, windowEndsIn: 5, reason: "shutdown")), .continueHere(replaced: false))
        XCTAssertEqual(decide(lease(.reconnecting, expiresIn: -30, windowEndsIn: -1, reason: "shutdown")), .endThenRetry(reason: .shutdown),
                       "and ended as its holder would have once the window closed")
    }

    func testALeaseNobodyRenewedBelongsToALostNode() {
        XCTAssertEqual(decide(lease(.live, expiresIn: -0.001)), .endThenRetry(reason: .nodeLost))
        XCTAssertEqual(decide(lease(.live, expiresIn: -1), takeOver: true), .endThenRetry(reason: .nodeLost), "replace or not")
        XCTAssertEqual(decide(lease(.live, expiresIn: 0)), .busy(node: "node-a"), "at its expiry it still holds")
    }
}
