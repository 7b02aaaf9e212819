@testable import IngestCore
import LiveGateModel
import RTMPCore
import XCTest

/// The per-connection machine, row by row: every phase against every input that can reach it.
final class PublishConnectionsTests: XCTestCase {
    typealias Machine = PublishConnections<String>
    let refused = NetStatus.error(.publishBadName, "this stream key is already publishing")
    let kickStatus = NetStatus.error(.publishUnauthorized, "channel disabled")

    func testAnAnswerGivenBeforeTheCallAsksIsHeldUntilTaken() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        XCTAssertEqual(m.answered(1, .accept), .deliver(.accept))
        XCTAssertEqual(m.channel(of: 1), "ch")
        XCTAssertEqual(m.remote(of: 1), "r")
        XCTAssertEqual(m.answerTaken(1), .accept)
        XCTAssertNil(m.answerTaken(1), "taken once")
        XCTAssertTrue(m.hasConnections(channelId: "ch"), "accepted: still the channel's")
    }

    /// `hasConnections` is a count kept per channel (the coordinator's tick asks it of idle
    /// channels): every way a connection leaves brings it down, two connections of one channel
    /// count twice, another channel's do not count.
    func testHasConnectionsCountsEveryWayInAndOut() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        m.deciding(2, channelId: "ch", remote: "r")
        m.deciding(3, channelId: "other", remote: "r")
        m.deciding(4, channelId: "ch", remote: "r")
        m.deciding(5, channelId: "ch", remote: "r")
        m.forget(4)                                   // the store could not be read
        _ = m.answered(2, .reject(refused))
        _ = m.answerTaken(2)                          // refused
        XCTAssertTrue(m.hasConnections(channelId: "ch"), "1 and 5 are left")
        _ = m.closedBeforeStart(5, isCurrent: false)
        _ = m.answered(5, .accept)
        _ = m.answerTaken(5)                          // closed while decided
        _ = m.answered(1, .accept)
        _ = m.answerTaken(1)
        _ = m.started(1, handle: "h1")
        XCTAssertTrue(m.hasConnections(channelId: "ch"), "1 publishes")
        _ = m.ended(1)
        XCTAssertFalse(m.hasConnections(channelId: "ch"), "every connection of ch is gone")
        XCTAssertTrue(m.hasConnections(channelId: "other"))
        m.deciding(3, channelId: "ch", remote: "r")   // the same connection asking again, for another channel
        XCTAssertFalse(m.hasConnections(channelId: "other"), "its entry was replaced")
        XCTAssertTrue(m.hasConnections(channelId: "ch"))
        _ = m.closedBeforeStart(3, isCurrent: false)
        _ = m.answered(3, .reject(refused))
        _ = m.answerTaken(3)
        XCTAssertFalse(m.hasConnections(channelId: "ch"))
        XCTAssertEqual(m.count, 0)
    }

    func testARefusalForgetsTheConnectionOnceTaken() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        XCTAssertEqual(m.answered(1, .reject(refused)), .deliver(.reject(refused)))
        XCTAssertEqual(m.answerTaken(1), .reject(refused))
        XCTAssertFalse(m.hasConnections(channelId: "ch"))
        XCTAssertEqual(m.count, 0)
    }

    func testAnAnswerForNobody() {
        var m = Machine()
        XCTAssertEqual(m.answered(9, .accept), .nobody)
        m.deciding(1, channelId: "ch", remote: "r")
        _ = m.answered(1, .accept)
        _ = m.answerTaken(1)
        XCTAssertEqual(m.answered(1, .accept), .nobody, "answered already")
    }

    /// Closed while decided: an accept afterwards is delivered and is also its end.
    func testClosedWhileDecidedThenAccepted() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        XCTAssertEqual(m.closedBeforeStart(1, isCurrent: false), .endWhenAccepted)
        XCTAssertEqual(m.answered(1, .accept), .deliverThenEnded)
        XCTAssertEqual(m.answerTaken(1), .accept, "the authorize call still gets its answer")
        XCTAssertEqual(m.count, 0, "and nothing is left")
    }

    func testClosedWhileDecidedThenRefused() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        _ = m.closedBeforeStart(1, isCurrent: false)
        XCTAssertEqual(m.answered(1, .reject(refused)), .deliver(.reject(refused)))
        XCTAssertEqual(m.answerTaken(1), .reject(refused))
        XCTAssertEqual(m.count, 0)
    }

    /// The accept was given and held, the connection closed before the call took it: the
    /// machine's current publisher ended, and the call still finds its answer.
    func testClosedWithAnAcceptHeld() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        _ = m.answered(1, .accept)
        XCTAssertEqual(m.closedBeforeStart(1, isCurrent: true), .publisherEnded(channelId: "ch"))
        XCTAssertEqual(m.answerTaken(1), .accept)
        XCTAssertEqual(m.count, 0)
        m.deciding(2, channelId: "ch", remote: "r")
        _ = m.answered(2, .reject(refused))
        XCTAssertEqual(m.closedBeforeStart(2, isCurrent: false), .forgotten)
        XCTAssertEqual(m.answerTaken(2), .reject(refused), "a held answer is never lost")
    }

    func testClosedAfterItsAccept() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        _ = m.answered(1, .accept)
        _ = m.answerTaken(1)
        XCTAssertEqual(m.closedBeforeStart(1, isCurrent: true), .publisherEnded(channelId: "ch"))
        XCTAssertEqual(m.count, 0)
        m.deciding(2, channelId: "ch", remote: "r")
        _ = m.answered(2, .accept)
        _ = m.answerTaken(2)
        XCTAssertEqual(m.closedBeforeStart(2, isCurrent: false), .forgotten, "replaced meanwhile")
        XCTAssertEqual(m.closedBeforeStart(3, isCurrent: false), .forgotten, "unknown")
    }

    /// A kick in each phase: refused while deciding, kept until the start once accepted, at
    /// once while publishing; `replaced` when no reason is given.
    func testAKickInEveryPhase() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        guard case .refuse(let status) = m.kick(1, status: kickStatus, reason: .disabled) else { return XCTFail() }
        XCTAssertEqual(status, kickStatus)
        _ = m.answered(1, .accept)
        _ = m.answerTaken(1)
        guard case .kickWhenStarted = m.kick(1, status: kickStatus, reason: nil) else { return XCTFail() }
        let start = m.started(1, handle: "h1")
        XCTAssertEqual(start.channelId, "ch")
        XCTAssertEqual(start.kick, .init(status: kickStatus, reason: .replaced), "the kick that waited, as a replace")
        guard case .kickNow(let handle, _, let end) = m.kick(1, status: kickStatus, reason: .disabled) else { return XCTFail() }
        XCTAssertEqual(handle, "h1")
        XCTAssertEqual(end, .kicked)
        guard case .nothing = m.kick(7, status: kickStatus, reason: nil) else { return XCTFail() }
    }

    func testStartAndEndOfAPublisher() {
        var m = Machine()
        XCTAssertNil(m.started(5, handle: "x").channelId, "unknown connection")
        m.deciding(1, channelId: "ch", remote: "r")
        _ = m.answered(1, .accept)
        _ = m.answerTaken(1)
        let start = m.started(1, handle: "h1")
        XCTAssertNil(start.kick)
        XCTAssertEqual(m.handle(of: 1), "h1")
        XCTAssertEqual(m.publishers(channelId: "ch").map(\.1), ["h1"])
        XCTAssertEqual(m.ended(1), .init(channelId: "ch", released: nil))
        XCTAssertNil(m.handle(of: 1))
        XCTAssertEqual(m.ended(1), .init(channelId: nil, released: nil), "ended once")
    }

    /// A session moved to another node: its publisher, still connected, adds its figures to
    /// that session when it ends; publishers of other channels are untouched.
    func testAReleasedPublisherKeepsItsSession() {
        var m = Machine()
        for (id, channel) in [(UInt64(1), "ch"), (2, "other")] {
            m.deciding(id, channelId: channel, remote: "r")
            _ = m.answered(id, .accept)
            _ = m.answerTaken(id)
            _ = m.started(id, handle: "h\(id)")
        }
        let entry = SessionConnection(remoteAddr: "r", encoder: "e", startedAt: Date(timeIntervalSince1970: 1))
        m.sessionReleased(channelId: "ch", sessionId: "ses_1", log: [1: entry, 2: entry, 3: entry])
        XCTAssertTrue(m.publishers(channelId: "ch").isEmpty, "released, no longer the channel's publisher")
        XCTAssertEqual(m.handle(of: 1), "h1", "still kickable")
        guard case .kickNow = m.kick(1, status: kickStatus, reason: .deleted) else { return XCTFail() }
        let end = m.ended(1)
        XCTAssertEqual(end.channelId, "ch")
        XCTAssertEqual(end.released?.sessionId, "ses_1")
        XCTAssertEqual(end.released?.entry, entry)
        XCTAssertEqual(m.ended(2), .init(channelId: "other", released: nil))
    }

    func testForget() {
        var m = Machine()
        m.deciding(1, channelId: "ch", remote: "r")
        m.forget(1)
        XCTAssertEqual(m.count, 0)
    }
}
