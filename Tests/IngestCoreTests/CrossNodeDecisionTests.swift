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

    func decide(_ lease: SessionLease, takeOver: Bool = false, window: TimeInterval) -> LeaseVerdict {
        CrossNodeDecision.decide(LeaseFacts(lease: lease, now: now, takeOver: takeOver, reconnectWindow: window, timeToLive: 5, renewInterval: 2))
    }

    /// A lease nobody renewed for its lifetime belongs to a lost node: its publisher, coming
    /// back through another node, continues the session while the window — counted from the
    /// node's last renewal — is open; after that the session is over.
    func testALeaseNobodyRenewedBelongsToALostNode() {
        // Last renewal 5.001 s ago (expired 1 ms ago): inside a 10 s window, continued.
        XCTAssertEqual(decide(lease(.live, expiresIn: -0.001), window: 10), .continueHere(replaced: false))
        XCTAssertEqual(decide(lease(.live, expiresIn: -1), takeOver: true, window: 10), .continueHere(replaced: false), "replace or not: a reconnect")
        // Last renewal 11 s ago: past a 10 s window; no window at all: over at once.
        XCTAssertEqual(decide(lease(.live, expiresIn: -6), window: 10), .endThenRetry(reason: .nodeLost))
        XCTAssertEqual(decide(lease(.live, expiresIn: -0.001), window: 0), .endThenRetry(reason: .nodeLost))
    }

    /// A holder late with its renewal (3 s and more since the last, renewed every 2 s) is
    /// probably dead: the publish waits for the lease to expire instead of being refused; a
    /// holder renewing on time keeps its publisher (`BadName` for the duplicate).
    func testAPublishIsHeldWhileTheHolderIsLateAndRefusedWhileItRenews() {
        XCTAssertEqual(decide(lease(.live, expiresIn: 4), window: 10), .busy(node: "node-a"), "renewed 1 s ago")
        XCTAssertEqual(decide(lease(.live, expiresIn: 2.1), window: 10), .busy(node: "node-a"), "renewed 2.9 s ago: not late yet")
        XCTAssertEqual(decide(lease(.live, expiresIn: 1.5), window: 10), .holderSilent(node: "node-a", until: now.addingTimeInterval(1.5)))
        XCTAssertEqual(decide(lease(.live, expiresIn: 0), window: 10), .holderSilent(node: "node-a", until: now), "at its expiry it still holds")
        XCTAssertEqual(decide(lease(.live, expiresIn: 1.5), takeOver: true, window: 10), .continueHere(replaced: true), "replace takes over at once")
    }
}
