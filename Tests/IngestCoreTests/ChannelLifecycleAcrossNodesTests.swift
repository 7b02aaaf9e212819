import Foundation
@testable import IngestCore
import LiveGateModel
import RTMPCore
import XCTest

/// The machine's inputs that come from the lease (docs/contract.md §7): another node's session
/// adopted here, busy there, moved away — and the edges of shutdown, waiting publishes and ticks.
final class ChannelLifecycleAcrossNodesTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func at(_ s: Double) -> Date { t0.addingTimeInterval(s) }

    func channel(policy: Channel.DuplicatePolicy = .reject, window: Int = 10) -> Channel {
        Channel(id: "ch_1", userId: "u1", name: "c", streamKey: "KEY", reconnectWindowSec: window, duplicatePolicy: policy, createdAt: t0, updatedAt: t0)
    }

    func attempt(_ connection: UInt64, _ c: Channel, at seconds: Double = 0, session: String = "ses_new") -> ChannelLifecycle.PublishAttempt {
        .init(connection: connection, channel: c, limits: UserLimits(), liveForUser: 0, newSessionId: session,
              remoteAddress: "10.0.0.\(connection):5000", encoder: "obs", now: at(seconds))
    }

    let other = ChannelLifecycle.Session(id: "ses_other", startedAt: Date(timeIntervalSince1970: 1_799_999_000), remoteAddress: "10.9.9.9:1", encoder: "obs")

    func testAdoptingAnotherNodesSessionContinuesItWithoutANewOne() {
        var m = ChannelLifecycle(channel: channel())
        guard case .writeSession = m.publishRequested(attempt(1, channel())).first else { return XCTFail() }
        XCTAssertEqual(m.sessionAdopted(other, now: at(0.1)), [.accept(1)])
        XCTAssertEqual(m.session?.id, "ses_other", "the other node's session, its start kept")
        XCTAssertEqual(m.session?.startedAt, other.startedAt)
        XCTAssertEqual(m.publisherStarted(1, now: at(0.2)), [.continueOutputs(1, sessionId: "ses_other")], "its outputs continue as a part")
        XCTAssertEqual(m.sessionAdopted(other, now: at(1)), [], "only while starting")
    }

    func testAChangeThatArrivedWhileAdoptingEndsTheAdoptedSession() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel()))
        _ = m.channelChanged(.disabled, now: at(0.05))
        let actions = m.sessionAdopted(other, now: at(0.1))
        XCTAssertEqual(actions.count, 2)
        guard case .reject(1, let rejection) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(rejection.reason, .disabled)
        XCTAssertEqual(actions.last, .endSession(sessionId: "ses_other", reason: .disabled))
        XCTAssertEqual(m.endTime, at(0.1))
    }

    func testBusyOnAnotherNodeIsBadNameAndFreesTheChannelHere() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel()))
        let actions = m.sessionBusyElsewhere(now: at(0.1))
        guard case .reject(1, let rejection) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(rejection.status.code, .publishBadName)
        XCTAssertEqual(rejection.reason, .duplicate)
        XCTAssertTrue(m.isIdle)
        XCTAssertEqual(m.sessionBusyElsewhere(now: at(1)), [], "only while starting")
    }

    func testASessionThatMovedAwayKicksThePublisherHereAndRecordsNoEnd() {
        var m = ChannelLifecycle(channel: channel(policy: .replace))
        _ = m.publishRequested(attempt(1, channel(policy: .replace), session: "ses_1"))
        XCTAssertEqual(m.sessionMoved(sessionId: "ses_1", now: at(0.05)), [], "starting: the write decides")
        _ = m.sessionWritten(now: at(0.1))
        _ = m.publisherStarted(1, now: at(0.1))
        XCTAssertEqual(m.sessionMoved(sessionId: "ses_unrelated", now: at(5)), [])
        let actions = m.sessionMoved(sessionId: "ses_1", now: at(5))
        XCTAssertEqual(actions.count, 2)
        guard case .kick(1, let status, nil) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(status.code, .unpublishSuccess)
        XCTAssertEqual(actions.last, .releaseSession(sessionId: "ses_1"))
        XCTAssertFalse(actions.contains { if case .endSession = $0 { return true } else { return false } }, "no end: the session goes on elsewhere")
        XCTAssertTrue(m.isIdle)
    }

    func testASessionThatMovedWhileReconnectingIsLetGo() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel(), session: "ses_1"))
        _ = m.sessionWritten(now: at(0))
        _ = m.publisherStarted(1, now: at(0))
        _ = m.publisherEnded(1, reason: .connectionClosed, now: at(3))
        XCTAssertEqual(m.sessionMoved(sessionId: "ses_1", now: at(4)), [.releaseSession(sessionId: "ses_1")])
        XCTAssertEqual(m.tick(now: at(100), limits: UserLimits()), [], "its window is the other node's now")
    }

    func testThirdPublishWhileTheEndIsWrittenReplacesTheWaitingOne() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel(), session: "ses_1"))
        _ = m.sessionWritten(now: at(0))
        _ = m.publisherStarted(1, now: at(0))
        _ = m.publisherEnded(1, reason: .unpublished, now: at(2))
        XCTAssertEqual(m.publishRequested(attempt(2, channel(), at: 2.1)), [], "waits for the end")
        let actions = m.publishRequested(attempt(3, channel(), at: 2.2, session: "ses_3"))
        guard case .reject(2, let rejection) = actions.first, actions.count == 1 else { return XCTFail("\(actions)") }
        XCTAssertEqual(rejection.status.code, .unpublishSuccess, "the earlier waiting publisher is told it was replaced")
        guard case .writeSession(let next) = m.sessionEnded(now: at(2.3)).first else { return XCTFail("the latest starts the next session") }
        XCTAssertEqual(next.id, "ses_3")
    }

    func testShutdownWhileStartingOrBeforeThePublisherStarted() {
        var starting = ChannelLifecycle(channel: channel())
        _ = starting.publishRequested(attempt(1, channel(), session: "ses_1"))
        XCTAssertEqual(starting.shutdown(now: at(1)), [], "the write decides")
        let actions = starting.sessionWritten(now: at(1.1))
        XCTAssertEqual(actions.last, .endSession(sessionId: "ses_1", reason: .shutdown))
        var accepted = ChannelLifecycle(channel: channel())
        _ = accepted.publishRequested(attempt(1, channel(), session: "ses_2"))
        _ = accepted.sessionWritten(now: at(0))
        XCTAssertEqual(accepted.shutdown(now: at(1)), [.endSession(sessionId: "ses_2", reason: .shutdown)], "answered, never started")
        XCTAssertEqual(accepted.endTime, at(1))
        var idle = ChannelLifecycle(channel: channel())
        XCTAssertEqual(idle.shutdown(now: at(1)), [])
    }

    func testTicksForgetAnExpiredCooldownAndTheEventRateLimit() {
        var m = ChannelLifecycle(channel: channel(), configuration: .init(limitCooldown: 30, cooldownEventInterval: 60))
        _ = m.publishRequested(attempt(1, channel(), session: "ses_1"))
        _ = m.sessionWritten(now: at(0))
        _ = m.publisherStarted(1, now: at(0))
        _ = m.limitObserved(1, .init(limit: .maxFps, configured: .number(30), measured: .number(60)), now: at(1))
        _ = m.publisherEnded(1, reason: .kicked, now: at(1))
        _ = m.sessionEnded(now: at(1))
        XCTAssertFalse(m.isIdle, "cooling down")
        _ = m.publishRequested(attempt(2, channel(), at: 5)) // records the one event of the minute
        XCTAssertEqual(m.tick(now: at(31), limits: UserLimits()), [])
        XCTAssertFalse(m.isIdle, "the cooldown is over, the event limit still remembered")
        XCTAssertEqual(m.tick(now: at(65), limits: UserLimits()), [])
        XCTAssertTrue(m.isIdle, "nothing left to remember: the coordinator may forget the channel")
    }
}
