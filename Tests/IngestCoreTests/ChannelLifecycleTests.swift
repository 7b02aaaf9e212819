import LiveGateModel
import Foundation
@testable import IngestCore
import LiveGateModel
import RTMPCore
import XCTest

/// docs/contract.md §2's publish decisions, the reconnect window, replace, kicks and every limit, driven
/// through the pure `ChannelLifecycle` with an injected clock: no sockets, no ffmpeg, no sleeps.
final class ChannelLifecycleTests: XCTestCase {
    typealias Action = ChannelLifecycle.Action
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func channel(window: Int = 10, policy: Channel.DuplicatePolicy = .reject, enabled: Bool = true) -> Channel {
        Channel(id: "ch_1", userId: "u1", name: "c", streamKey: "KEY", enabled: enabled, reconnectWindowSec: window,
                duplicatePolicy: policy, createdAt: t0, updatedAt: t0)
    }

    func attempt(_ connection: UInt64, _ channel: Channel, at seconds: Double = 0, limits: UserLimits = UserLimits(), liveForUser: Int = 0,
                 session: String = "ses_1") -> ChannelLifecycle.PublishAttempt {
        .init(connection: connection, channel: channel, limits: limits, liveForUser: liveForUser, newSessionId: session,
              remoteAddress: "10.0.0.\(connection):5000", encoder: "FMLE/3.0", now: t0.addingTimeInterval(seconds))
    }

    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    /// Starts a session on connection 1 and returns the machine live.
    func liveMachine(_ c: Channel, limits: UserLimits = UserLimits()) -> ChannelLifecycle {
        var m = ChannelLifecycle(channel: c)
        XCTAssertEqual(m.publishRequested(attempt(1, c, limits: limits)).count, 1)
        XCTAssertEqual(m.sessionWritten(now: at(0)), [.accept(1)])
        XCTAssertEqual(m.publisherStarted(1, now: at(0)), [.startOutputs(1, sessionId: "ses_1")])
        return m
    }

    func rejection(_ actions: [Action]) -> ChannelLifecycle.Rejection? {
        guard actions.count == 1, case .reject(_, let r) = actions[0] else { return nil }
        return r
    }

    // MARK: The decision table

    func testUnknownKeyIsUnauthorized() {
        XCTAssertEqual(ChannelLifecycle.unknownKey.status.code, .publishUnauthorized)
        XCTAssertEqual(ChannelLifecycle.unknownKey.reason, .unknownKey)
        XCTAssertTrue(ChannelLifecycle.unknownKey.recordEvent)
    }

    func testDisabledChannelIsUnauthorized() {
        var m = ChannelLifecycle(channel: channel(enabled: false))
        let r = rejection(m.publishRequested(attempt(1, channel(enabled: false))))
        XCTAssertEqual(r?.status.code, .publishUnauthorized)
        XCTAssertEqual(r?.status.level, .error)
        XCTAssertEqual(r?.reason, .disabled)
        XCTAssertEqual(m.phase, .idle)
    }

    func testFirstPublishWritesTheSessionThenAccepts() {
        var m = ChannelLifecycle(channel: channel())
        let actions = m.publishRequested(attempt(1, channel()))
        guard case .writeSession(let session) = actions.first, actions.count == 1 else { return XCTFail("\(actions)") }
        XCTAssertEqual(session.id, "ses_1")
        XCTAssertEqual(session.startedAt, t0)
        XCTAssertEqual(m.phase, .starting)
        XCTAssertTrue(m.holdsLiveSlot, "a reservation counts against maxConcurrentLive")
        XCTAssertEqual(m.sessionWritten(now: at(0.01)), [.accept(1)])
        XCTAssertEqual(m.phase, .live)
    }

    func testSessionWriteFailureRefusesAndFreesTheChannel() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel()))
        XCTAssertEqual(rejection(m.sessionWriteFailed(now: at(0)))?.status.code, .publishRejected)
        XCTAssertEqual(m.phase, .idle)
        XCTAssertFalse(m.holdsLiveSlot)
    }

    func testDuplicateUnderRejectIsBadNameAndTheFirstCarriesOn() {
        var m = liveMachine(channel())
        let r = rejection(m.publishRequested(attempt(2, channel(), at: 1)))
        XCTAssertEqual(r?.status.code, .publishBadName)
        XCTAssertEqual(r?.reason, .duplicate)
        XCTAssertEqual(m.connection, 1)
    }

    func testDuplicateWhileStartingUnderRejectIsBadName() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel()))
        XCTAssertEqual(rejection(m.publishRequested(attempt(2, channel(), at: 0.001)))?.status.code, .publishBadName)
        XCTAssertEqual(m.sessionWritten(now: at(0.01)), [.accept(1)])
    }

    func testReplaceKicksTheOldPublisherAndContinuesTheSession() {
        let c = channel(policy: .replace)
        var m = liveMachine(c)
        let actions = m.publishRequested(attempt(2, c, at: 5, session: "ses_other"))
        XCTAssertEqual(actions, [.kick(1, NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"), reason: nil),
                                 .accept(2)])
        XCTAssertEqual(m.session?.id, "ses_1", "same session")
        // The replaced publisher going away ends nothing.
        XCTAssertEqual(m.publisherEnded(1, reason: .kicked, now: at(5.1)), [])
        XCTAssertEqual(m.publisherStarted(2, now: at(5.1)), [.continueOutputs(2, sessionId: "ses_1")])
        XCTAssertEqual(m.publisherEnded(2, reason: .unpublished, now: at(9)), [.endSession(sessionId: "ses_1", reason: .unpublished)])
    }

    /// A publisher asked to reconnect (ReconnectRequest, its token checked by the coordinator)
    /// takes the session over under the default `reject` policy: the old connection is handed
    /// over (kept until the new one's first keyframe), not kicked now; the session goes on.
    /// Without the token the same publish is a duplicate.
    func testAPublisherAskedToReconnectTakesItsSessionOverWhateverThePolicy() {
        let c = channel(policy: .reject)
        var m = liveMachine(c)
        XCTAssertEqual(rejection(m.publishRequested(attempt(2, c, at: 5)))?.reason, .duplicate)
        var moved = attempt(3, c, at: 6, session: "ses_other")
        moved.reconnectRequested = true
        XCTAssertEqual(m.publishRequested(moved), [.handOver(from: 1, to: 3), .accept(3)])
        XCTAssertEqual(m.session?.id, "ses_1", "same session")
        XCTAssertEqual(m.publisherEnded(1, reason: .replaced, now: at(6.5)), [], "the old connection's end ends nothing")
        XCTAssertEqual(m.publisherStarted(3, now: at(6.1)), [.continueOutputs(3, sessionId: "ses_1")])
        // On a node where the channel is idle (the session is held elsewhere), it asks to take it over.
        var fresh = ChannelLifecycle(channel: c)
        guard case .writeSession(let session)? = fresh.publishRequested(moved).first else { return XCTFail() }
        XCTAssertTrue(session.takesOver)
        guard case .writeSession(let plain)? = ChannelLifecycle(channel: c).publishRequestedCopy(attempt(4, c)).first else { return XCTFail() }
        XCTAssertFalse(plain.takesOver)
    }

    /// Used to answer BadName even under `replace` (the first publisher was still being decided).
    func testReplaceWhileTheFirstIsStillStarting() {
        let c = channel(policy: .replace)
        var m = ChannelLifecycle(channel: c)
        XCTAssertEqual(m.publishRequested(attempt(1, c)).count, 1)
        let actions = m.publishRequested(attempt(2, c, at: 0.002))
        XCTAssertEqual(rejection(actions)?.status.code, .unpublishSuccess)
        guard case .reject(let refused, _) = actions.first else { return XCTFail() }
        XCTAssertEqual(refused, 1, "the first publisher is the one refused")
        XCTAssertEqual(m.sessionWritten(now: at(0.01)), [.accept(2)], "the new one gets the session")
        XCTAssertEqual(m.publisherStarted(2, now: at(0.02)), [.startOutputs(2, sessionId: "ses_1")])
    }

    func testMaxConcurrentLiveCountsReservations() {
        let limits = UserLimits(maxConcurrentLive: 2)
        var m = ChannelLifecycle(channel: channel())
        let r = rejection(m.publishRequested(attempt(1, channel(), limits: limits, liveForUser: 2)))
        XCTAssertEqual(r?.status.code, .publishRejected)
        XCTAssertTrue(r?.status.description.hasSuffix("maxConcurrentLive") == true, r?.status.description ?? "")
        XCTAssertEqual(r?.limit, .maxConcurrentLive)
        var n = ChannelLifecycle(channel: channel())
        guard case .writeSession = n.publishRequested(attempt(1, channel(), limits: limits, liveForUser: 1)).first else { return XCTFail() }
    }

    // MARK: The reconnect window

    func testCleanUnpublishEndsAtOnce() {
        var m = liveMachine(channel())
        XCTAssertEqual(m.publisherEnded(1, reason: .unpublished, now: at(3)), [.endSession(sessionId: "ses_1", reason: .unpublished)])
        XCTAssertEqual(m.phase, .ending)
        XCTAssertEqual(m.sessionEnded(now: at(3.01)), [])
        XCTAssertTrue(m.isIdle)
    }

    func testReconnectInsideTheWindowContinuesTheSession() {
        var m = liveMachine(channel(window: 10))
        XCTAssertEqual(m.publisherEnded(1, reason: .connectionClosed, now: at(7)), [])
        XCTAssertEqual(m.phase, .reconnecting)
        XCTAssertTrue(m.holdsLiveSlot)
        XCTAssertEqual(m.tick(now: at(16.9), limits: UserLimits()), [])
        XCTAssertEqual(m.publishRequested(attempt(2, channel(window: 10), at: 16.99, session: "ses_new")), [.accept(2)],
                       "no session write: no offline/live pair")
        XCTAssertEqual(m.publisherStarted(2, now: at(17)), [.continueOutputs(2, sessionId: "ses_1")])
        XCTAssertEqual(m.session?.id, "ses_1")
    }

    func testWindowEdgeAndAfter() {
        var m = liveMachine(channel(window: 10))
        _ = m.publisherEnded(1, reason: .mediaTimeout, now: at(7))
        XCTAssertEqual(m.tick(now: at(17), limits: UserLimits()), [.endSession(sessionId: "ses_1", reason: .mediaTimeout)],
                       "at the deadline the window is over")
        _ = m.sessionEnded(now: at(17.01))
        guard case .writeSession(let next) = m.publishRequested(attempt(2, channel(window: 10), at: 18, session: "ses_2")).first else {
            return XCTFail("a publish after the window starts a new session")
        }
        XCTAssertEqual(next.id, "ses_2")
    }

    // MARK: True end times (docs/contract.md §2, "Sessions span connections")

    func testADroppedSessionEndsWhenThePublisherLeftNotWhenTheWindowClosed() {
        var m = liveMachine(channel(window: 10))
        XCTAssertEqual(m.reconnectWindow?.leftAt, nil)
        _ = m.publisherEnded(1, reason: .connectionClosed, now: at(7))
        XCTAssertEqual(m.reconnectWindow?.leftAt, at(7))
        XCTAssertEqual(m.reconnectWindow?.endsAt, at(17))
        XCTAssertEqual(m.tick(now: at(17.4), limits: UserLimits()), [.endSession(sessionId: "ses_1", reason: .connectionClosed)])
        XCTAssertEqual(m.endTime, at(7), "billed to the drop, not to the window's end")
    }

    func testAMediaTimeoutEndsAtTheLastMedia() {
        var m = ChannelLifecycle(channel: channel(window: 10), configuration: .init(mediaTimeout: 6))
        _ = m.publishRequested(attempt(1, channel(window: 10)))
        _ = m.sessionWritten(now: at(0))
        _ = m.publisherStarted(1, now: at(0))
        // The listener saw 6 s of silence at t = 20: the last media came at 14.
        _ = m.publisherEnded(1, reason: .mediaTimeout, now: at(20))
        XCTAssertEqual(m.reconnectWindow?.leftAt, at(14))
        _ = m.tick(now: at(30), limits: UserLimits())
        XCTAssertEqual(m.endTime, at(14))
        // Without a window the same rule applies to the immediate end.
        var zero = ChannelLifecycle(channel: channel(window: 0), configuration: .init(mediaTimeout: 6))
        _ = zero.publishRequested(attempt(1, channel(window: 0)))
        _ = zero.sessionWritten(now: at(0))
        _ = zero.publisherStarted(1, now: at(0))
        XCTAssertEqual(zero.publisherEnded(1, reason: .mediaTimeout, now: at(20)), [.endSession(sessionId: "ses_1", reason: .mediaTimeout)])
        XCTAssertEqual(zero.endTime, at(14))
    }

    func testCleanEndsChangesAndShutdownDuringTheWindowKeepTheirTimes() {
        var clean = liveMachine(channel())
        _ = clean.publisherEnded(1, reason: .unpublished, now: at(3))
        XCTAssertEqual(clean.endTime, at(3))
        // A change (disable) or a shutdown while nobody is connected: the session ended at the drop.
        var disabled = liveMachine(channel())
        _ = disabled.publisherEnded(1, reason: .connectionClosed, now: at(4))
        XCTAssertEqual(disabled.channelChanged(.disabled, now: at(9)), [.endSession(sessionId: "ses_1", reason: .disabled)])
        XCTAssertEqual(disabled.endTime, at(4))
        var stopping = liveMachine(channel())
        _ = stopping.publisherEnded(1, reason: .connectionClosed, now: at(5))
        XCTAssertEqual(stopping.shutdown(now: at(8)), [.endSession(sessionId: "ses_1", reason: .shutdown)])
        XCTAssertEqual(stopping.endTime, at(5))
        // A reconnect clears the window: the end is the later publisher's.
        var back = liveMachine(channel())
        _ = back.publisherEnded(1, reason: .connectionClosed, now: at(2))
        _ = back.publishRequested(attempt(2, channel(), at: 4))
        _ = back.publisherStarted(2, now: at(4))
        _ = back.publisherEnded(2, reason: .unpublished, now: at(30))
        XCTAssertEqual(back.endTime, at(30))
    }

    func testZeroWindowEndsAtOnceOnADrop() {
        var m = liveMachine(channel(window: 0))
        XCTAssertEqual(m.publisherEnded(1, reason: .connectionClosed, now: at(2)), [.endSession(sessionId: "ses_1", reason: .connectionClosed)])
    }

    func testProtocolErrorWaitsLikeADrop() {
        var m = liveMachine(channel(window: 5))
        XCTAssertEqual(m.publisherEnded(1, reason: .protocolError, now: at(2)), [])
        XCTAssertEqual(m.tick(now: at(7), limits: UserLimits()), [.endSession(sessionId: "ses_1", reason: .connectionClosed)])
    }

    func testPublishWhileTheEndIsBeingWrittenStartsTheNextSessionAfterIt() {
        var m = liveMachine(channel())
        _ = m.publisherEnded(1, reason: .unpublished, now: at(3))
        XCTAssertEqual(m.publishRequested(attempt(2, channel(), at: 3.001, session: "ses_2")), [], "waits for the end")
        let next = m.sessionEnded(now: at(3.01))
        guard case .writeSession(let session) = next.first else { return XCTFail("\(next)") }
        XCTAssertEqual(session.id, "ses_2")
        XCTAssertEqual(m.sessionWritten(now: at(3.02)), [.accept(2)])
    }

    // MARK: Kicks

    func testAPIChangesKickWithTheirReason() {
        for (change, reason, code) in [(ChannelChange.keyReset, OfflineReason.keyReset, NetStatus.Code.publishUnauthorized),
                                       (.disabled, .disabled, .publishUnauthorized), (.deleted, .deleted, .publishBadName)] {
            var m = liveMachine(channel())
            let actions = m.channelChanged(change, now: at(2))
            guard case .kick(1, let status, let why) = actions.first, actions.count == 1 else { return XCTFail("\(actions)") }
            XCTAssertEqual(status.code, code)
            XCTAssertEqual(why, reason)
            // However the connection then ends, the session ends with the change's reason.
            XCTAssertEqual(m.publisherEnded(1, reason: .kicked, now: at(2.1)), [.endSession(sessionId: "ses_1", reason: reason)])
        }
    }

    func testChangeDuringTheWindowEndsAtOnce() {
        var m = liveMachine(channel())
        _ = m.publisherEnded(1, reason: .connectionClosed, now: at(2))
        XCTAssertEqual(m.channelChanged(.keyReset, now: at(3)), [.endSession(sessionId: "ses_1", reason: .keyReset)])
    }

    func testChangeWhileStartingEndsTheSessionOnceWritten() {
        var m = ChannelLifecycle(channel: channel())
        _ = m.publishRequested(attempt(1, channel()))
        XCTAssertEqual(m.channelChanged(.disabled, now: at(0.001)), [])
        let actions = m.sessionWritten(now: at(0.01))
        XCTAssertEqual(actions.count, 2)
        XCTAssertEqual(rejection([actions[0]])?.status.code, .publishUnauthorized)
        XCTAssertEqual(actions[1], .endSession(sessionId: "ses_1", reason: .disabled))
    }

    /// A publisher let go because the gateway stops hands its session over: the window opens
    /// (reason `shutdown`) and its return — to any node, or to this one restarted — continues it.
    /// With no window it ends at once, with `shutdown`.
    func testAShutdownHandsTheSessionOver() {
        var m = liveMachine(channel(window: 10))
        XCTAssertEqual(m.publisherEnded(1, reason: .shutdown, now: at(1)), [])
        XCTAssertEqual(m.phase, .reconnecting)
        XCTAssertEqual(m.reconnectWindow?.reason, .shutdown)
        XCTAssertEqual(m.reconnectWindow?.endsAt, at(11))
        XCTAssertEqual(m.reconnectWindow?.leftAt, at(1))
        XCTAssertEqual(m.tick(now: at(11), limits: UserLimits()), [.endSession(sessionId: "ses_1", reason: .shutdown)], "nobody came back")
        XCTAssertEqual(m.endTime, at(1))
        var none = liveMachine(channel(window: 0))
        XCTAssertEqual(none.publisherEnded(1, reason: .shutdown, now: at(1)), [.endSession(sessionId: "ses_1", reason: .shutdown)])
    }

    /// After a restart: a session handed over (or whose publisher had dropped) waits again for
    /// the rest of its window, counted from when its publisher left; a publish continues it with
    /// its outputs as the next part. One whose window closed while the node was down ends at the drop.
    func testASessionResumedAfterARestart() {
        let session = ChannelLifecycle.Session(id: "ses_9", startedAt: at(0), remoteAddress: "r", encoder: "e")
        var m = ChannelLifecycle(channel: channel(window: 30))
        XCTAssertEqual(m.resumed(session, deadline: at(40), reason: .shutdown, leftAt: at(10), now: at(25)), [])
        XCTAssertEqual(m.phase, .reconnecting)
        XCTAssertTrue(m.holdsLiveSlot)
        XCTAssertEqual(m.publishRequested(attempt(2, channel(window: 30), at: 26)), [.accept(2)])
        XCTAssertEqual(m.publisherStarted(2, now: at(26)), [.continueOutputs(2, sessionId: "ses_9")], "the next part of its outputs")
        XCTAssertEqual(m.resumed(session, deadline: at(40), reason: .shutdown, leftAt: at(10), now: at(27)), [], "only from idle")
        var late = ChannelLifecycle(channel: channel(window: 30))
        XCTAssertEqual(late.resumed(session, deadline: at(40), reason: .shutdown, leftAt: at(10), now: at(40)),
                       [.endSession(sessionId: "ses_9", reason: .shutdown)])
        XCTAssertEqual(late.endTime, at(10))
    }

    // MARK: Limits

    func testEveryRunningLimitEndsTheSessionAndCoolsDown() {
        for limit in [UserLimit.maxBitrateKbps, .maxWidth, .maxHeight, .maxFps, .allowedVideoCodecs] {
            var m = liveMachine(channel())
            let violation = ChannelLifecycle.LimitViolation(limit: limit, configured: .number(1), measured: .number(2))
            XCTAssertEqual(m.limitObserved(1, violation, now: at(1)), [
                .recordLimitExceeded(sessionId: "ses_1", violation),
                .kick(1, .error(.publishRejected, limit.rawValue), reason: .limitExceeded),
            ], "\(limit)")
            XCTAssertEqual(m.limitObserved(1, violation, now: at(1.1)), [], "once")
            // The encoder drops (or is dropped): no reconnect window for a limit.
            XCTAssertEqual(m.publisherEnded(1, reason: .connectionClosed, now: at(1.2)), [.endSession(sessionId: "ses_1", reason: .limitExceeded)])
            _ = m.sessionEnded(now: at(1.3))
            // An auto-reconnecting encoder is refused for the cooldown, with one event per minute.
            let first = rejection(m.publishRequested(attempt(2, channel(), at: 2, session: "ses_2")))
            XCTAssertEqual(first?.status.code, .publishRejected)
            XCTAssertTrue(first?.status.description.contains("\(limit.rawValue) exceeded") == true, first?.status.description ?? "")
            XCTAssertEqual(first?.reason, .limitCooldown)
            XCTAssertEqual(first?.recordEvent, true)
            XCTAssertEqual(rejection(m.publishRequested(attempt(3, channel(), at: 3)))?.recordEvent, false)
            // Counted from the session's end (the drop at 1.2), not from when the end was recorded.
            XCTAssertEqual(rejection(m.publishRequested(attempt(4, channel(), at: 61.1)))?.reason, .limitCooldown, "still cooling at 59.9 s")
            guard case .writeSession = m.publishRequested(attempt(5, channel(), at: 61.2, session: "ses_3")).first else {
                return XCTFail("after the cooldown a publish starts a session (\(limit))")
            }
        }
    }

    /// The cooldown is stored with the channel: written with the end, enforced by any machine
    /// (any node) that reads it, ended by the API clearing it.
    func testTheStoredCooldownIsWhatEveryNodeEnforcesAndClearingItEndsIt() {
        var m = liveMachine(channel())
        _ = m.limitObserved(1, .init(limit: .maxFps, configured: .number(30), measured: .number(60)), now: at(5))
        XCTAssertNil(m.pendingCooldown, "nothing to store before the end")
        _ = m.publisherEnded(1, reason: .kicked, now: at(5.1))
        XCTAssertEqual(m.pendingCooldown?.limit, .maxFps)
        XCTAssertEqual(m.pendingCooldown?.until, at(65.1), "written with the end, counted from it")
        _ = m.sessionEnded(now: at(5.3))
        XCTAssertEqual(m.channel.cooldownUntil, at(65.1))
        XCTAssertNil(m.pendingCooldown)

        // Another node's machine knows nothing but the channel it reads: it refuses too.
        var cooled = channel()
        cooled.cooldownUntil = at(65.1)
        cooled.cooldownLimit = .maxFps
        var other = ChannelLifecycle(channel: cooled)
        let refused = rejection(other.publishRequested(attempt(7, cooled, at: 30)))
        XCTAssertEqual(refused?.reason, .limitCooldown)
        XCTAssertEqual(refused?.limit, .maxFps)
        XCTAssertTrue(refused?.status.description.hasSuffix("maxFps exceeded; publishing refused for 36 s") == true, refused?.status.description ?? "")
        guard case .writeSession = other.publishRequested(attempt(8, cooled, at: 65.2, session: "ses_9")).first else {
            return XCTFail("an expired stored cooldown refuses nothing")
        }

        // The API cleared it: the channel edit reaches the machine that started it, which drops its copy.
        var cleared = cooled
        cleared.cooldownUntil = nil
        cleared.cooldownLimit = nil
        m.channelEdited(cleared)
        guard case .writeSession = m.publishRequested(attempt(9, cleared, at: 31, session: "ses_10")).first else {
            return XCTFail("a cleared cooldown refuses nothing")
        }
    }

    func testAPublishThatReadTheChannelBeforeTheCooldownWasStoredIsStillRefused() {
        var m = liveMachine(channel())
        _ = m.limitObserved(1, .init(limit: .maxSessionSec, configured: .number(10), measured: .number(10)), now: at(10))
        _ = m.publisherEnded(1, reason: .kicked, now: at(10))
        // This publish read the channel before the end (and its cooldown) was written: it waits.
        XCTAssertEqual(m.publishRequested(attempt(2, channel(), at: 10.1, session: "ses_2")), [])
        let after = m.sessionEnded(now: at(10.2))
        XCTAssertEqual(rejection(after)?.reason, .limitCooldown, "refused by the cooldown its stale channel did not show")
        // A publish that read the channel meanwhile (stale too) meets the machine's own copy.
        XCTAssertEqual(rejection(m.publishRequested(attempt(3, channel(), at: 11)))?.reason, .limitCooldown)
    }

    func testCooldownEventAtMostOncePerMinute() {
        var m = ChannelLifecycle(channel: channel(), configuration: .init(limitCooldown: 300, cooldownEventInterval: 60))
        XCTAssertEqual(m.publishRequested(attempt(1, channel())).count, 1)
        _ = m.sessionWritten(now: at(0))
        _ = m.publisherStarted(1, now: at(0))
        _ = m.limitObserved(1, .init(limit: .maxFps, configured: .number(30), measured: .number(60)), now: at(1))
        _ = m.publisherEnded(1, reason: .kicked, now: at(1))
        _ = m.sessionEnded(now: at(1))
        let events = stride(from: 2.0, to: 200, by: 5).map { rejection(m.publishRequested(attempt(9, channel(), at: $0)))?.recordEvent ?? false }
        XCTAssertEqual(events.filter { $0 }.count, 4, "t = 2, 62, 122, 182")
    }

    /// `maxSessionSec` counts the session, across reconnects — reconnecting at once does not reset it.
    func testMaxSessionSecCountsTheWholeSession() {
        let limits = UserLimits(maxSessionSec: 60)
        var m = liveMachine(channel(), limits: limits)
        XCTAssertEqual(m.tick(now: at(40), limits: limits), [])
        _ = m.publisherEnded(1, reason: .connectionClosed, now: at(40))
        XCTAssertEqual(m.publishRequested(attempt(2, channel(), at: 41, limits: limits)), [.accept(2)])
        _ = m.publisherStarted(2, now: at(41))
        XCTAssertEqual(m.tick(now: at(59.9), limits: limits), [])
        let actions = m.tick(now: at(60), limits: limits)
        XCTAssertEqual(actions.count, 2)
        XCTAssertEqual(actions.last, .kick(2, .error(.publishRejected, "maxSessionSec"), reason: .limitExceeded))
    }

    /// `tickDue` is what the coordinator asks before feeding a tick (docs/architecture.md "The
    /// coordinator's tick"): it must say yes exactly when the tick has work — a no where the
    /// tick had work would leave a window open or a limit unenforced for good.
    func testTickDueSaysYesExactlyWhenTheTickHasWork() {
        let none = UserLimits(), capped = UserLimits(maxSessionSec: 60)
        // Live: only maxSessionSec is timed.
        var live = liveMachine(channel(), limits: capped)
        XCTAssertFalse(live.tickDue(now: at(3600), limits: none), "live without maxSessionSec: nothing, ever")
        XCTAssertFalse(live.tickDue(now: at(59.9), limits: capped))
        XCTAssertTrue(live.tickDue(now: at(60), limits: capped))
        XCTAssertEqual(live.tick(now: at(60), limits: capped).count, 2, "the limit recorded and the kick")
        XCTAssertFalse(live.tickDue(now: at(61), limits: capped), "once: the session is ending")
        // Reconnecting: the window's end.
        var dropped = liveMachine(channel(window: 10))
        _ = dropped.publisherEnded(1, reason: .connectionClosed, now: at(7))
        XCTAssertFalse(dropped.tickDue(now: at(16.99), limits: none))
        XCTAssertEqual(dropped.tick(now: at(16.99), limits: none), [])
        XCTAssertTrue(dropped.tickDue(now: at(17), limits: none))
        XCTAssertEqual(dropped.tick(now: at(17), limits: none), [.endSession(sessionId: "ses_1", reason: .connectionClosed)])
        // Ending: an end the store refused, at its retry time.
        var ending = liveMachine(channel())
        _ = ending.publisherEnded(1, reason: .unpublished, now: at(1))
        XCTAssertFalse(ending.tickDue(now: at(5), limits: none), "being written: nothing to retry")
        ending.sessionEndFailed(now: at(1.2))
        XCTAssertFalse(ending.tickDue(now: at(2.1), limits: none))
        XCTAssertTrue(ending.tickDue(now: at(2.2), limits: none))
        XCTAssertFalse(ending.tick(now: at(2.2), limits: none).isEmpty)
        // Idle: a cooldown running out makes the machine forgettable.
        var cooled = liveMachine(channel())
        _ = cooled.limitObserved(1, .init(limit: .maxFps, configured: .number(30), measured: .number(60)), now: at(1))
        _ = cooled.publisherEnded(1, reason: .kicked, now: at(1))
        _ = cooled.sessionEnded(now: at(1))
        XCTAssertFalse(cooled.isIdle, "cooling down")
        XCTAssertFalse(cooled.tickDue(now: at(30), limits: none))
        XCTAssertTrue(cooled.tickDue(now: at(61.1), limits: none))
        XCTAssertEqual(cooled.tick(now: at(61.1), limits: none), [])
        XCTAssertTrue(cooled.isIdle, "the tick cleared the cooldown and its event interval")
        XCTAssertFalse(cooled.tickDue(now: at(3600), limits: none))
        // Starting (the session being written): nothing timed.
        var starting = ChannelLifecycle(channel: channel())
        _ = starting.publishRequested(attempt(1, channel()))
        XCTAssertFalse(starting.tickDue(now: at(3600), limits: capped))
    }

    /// A refused end is asked for again on the tick after `endRetryInterval`, as the same action
    /// with the same end time — never before, and not once it is recorded.
    func testARefusedEndIsRetriedByTheTickWithItsTime() {
        var m = liveMachine(channel())
        let end = m.publisherEnded(1, reason: .unpublished, now: at(1))
        XCTAssertNil(m.unrecordedEnd, "nothing refused yet")
        m.sessionEndFailed(now: at(1.2))
        XCTAssertEqual(m.unrecordedEnd?.endedAt, at(1), "kept with its true end time")
        XCTAssertEqual(m.tick(now: at(2.1), limits: UserLimits()), [], "not before the retry interval")
        XCTAssertEqual(m.tick(now: at(2.2), limits: UserLimits()), end, "a failed end write is retried as the same action")
        XCTAssertEqual(m.tick(now: at(9), limits: UserLimits()), [], "one retry in flight at a time")
        m.sessionEndFailed(now: at(9))
        XCTAssertEqual(m.retryEndNow(), end, "a shutdown asks at once")
        XCTAssertEqual(m.sessionEnded(now: at(10)), [])
        XCTAssertNil(m.unrecordedEnd)
        XCTAssertEqual(m.retryEndNow(), [], "nothing left to retry")
        XCTAssertEqual(m.phase, .idle)
    }

    /// Edits through the API apply to a live session from its next decision.
    func testEditsApplyToTheNextDecision() {
        var m = liveMachine(channel(window: 10, policy: .reject))
        m.channelEdited(channel(window: 0, policy: .replace))
        XCTAssertEqual(m.publishRequested(attempt(2, channel(window: 0, policy: .replace), at: 1)).last, .accept(2), "now replace")
        _ = m.publisherStarted(2, now: at(1.1))
        XCTAssertEqual(m.publisherEnded(2, reason: .connectionClosed, now: at(2)), [.endSession(sessionId: "ses_1", reason: .connectionClosed)],
                       "a window of 0 now: no waiting")
    }
}

extension ChannelLifecycle {
    /// `publishRequested` on a copy (for an expression).
    func publishRequestedCopy(_ attempt: PublishAttempt) -> [Action] {
        var copy = self
        return copy.publishRequested(attempt)
    }
}
