import IngestCore
import LiveGateModel
import RTMPCore
import XCTest

final class SessionBookTests: XCTestCase {
    func at(_ s: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_000_000 + s) }
    func record(_ id: String = "ses_1", connections: [SessionConnection] = [], bytes: Int64 = 0) -> SessionRecord {
        SessionRecord(id: id, channelId: "ch", nodeId: "n1", startedAt: at(0), remoteAddr: "r", encoder: "e", bytesIn: bytes,
                      videoFrames: 5, audioFrames: 7, connections: connections)
    }

    func testConnectionsAddUpAcrossTheSession() {
        var book = SessionBook()
        book.began(record(), leaseAt: at(0))
        XCTAssertEqual(book.leaseState, .live)
        XCTAssertEqual(book.leaseSince, at(0))
        book.connectionStarted(1, remote: "a", encoder: "obs", at: at(1))
        XCTAssertEqual(book.startedAt(1), at(1))
        let first = book.connectionEnded(1, reason: .connectionClosed, bytes: 100, videoFrames: 3, audioFrames: 4, at: at(5))
        XCTAssertEqual(first?.endReason, "connection_closed")
        XCTAssertEqual(first?.endedAt, at(5))
        XCTAssertEqual(first?.bytesIn, 100)
        book.connectionStarted(2, remote: "b", encoder: "obs", at: at(6))
        _ = book.connectionEnded(2, reason: .unpublished, bytes: 50, videoFrames: 1, audioFrames: 1, at: at(9))
        XCTAssertEqual(book.totals, .init(bytes: 150, videoFrames: 4, audioFrames: 5))
        XCTAssertEqual(book.connectionLog.map(\.remoteAddr), ["a", "b"])
        XCTAssertNil(book.connectionEnded(3, reason: .unpublished, bytes: 1, videoFrames: 1, audioFrames: 1, at: at(9)), "not the session's")
        XCTAssertEqual(book.totals.bytes, 150, "and counted nowhere")
    }

    /// Continued from another node: its figures and log come with it; its outputs are the next part.
    func testContinuedFromAnotherNode() {
        var book = SessionBook()
        let earlier = SessionConnection(remoteAddr: "a", encoder: "e", startedAt: at(0))
        book.continued(record(connections: [earlier], bytes: 900), leaseAt: at(3))
        XCTAssertEqual(book.totals, .init(bytes: 900, videoFrames: 5, audioFrames: 7))
        XCTAssertEqual(book.connectionLog, [earlier])
        XCTAssertEqual(book.outputsPart, 2)
        XCTAssertEqual(book.leaseSince, at(3))
    }

    func testClosedReturnsTheRunningConnectionsAndForgetsTheSession() {
        var book = SessionBook()
        book.began(record(), leaseAt: at(0))
        book.connectionStarted(1, remote: "a", encoder: "e", at: at(1))
        book.declared(fps: 30, by: 1)
        let running = book.closed()
        XCTAssertEqual(running.keys.sorted(), [1])
        XCTAssertNil(book.record)
        XCTAssertNil(book.leaseState)
        XCTAssertEqual(book.totals, .init())
        XCTAssertEqual(book.declaredFps(of: 1), 30, "what the publisher declared stays with it")
        XCTAssertNil(book.connectionEnded(1, reason: .kicked, bytes: 1, videoFrames: 0, audioFrames: 0, at: at(2)), "no longer the book's")
        XCTAssertNil(book.declaredFps(of: 1), "gone with its publisher")
    }

    /// One lease write at a time, only when the phase asks for another state; a failure is
    /// said once per outage and the write asked for again.
    func testLeaseWrites() {
        var book = SessionBook()
        XCTAssertNil(book.leaseWriteNeeded(for: .reconnecting), "no session")
        book.began(record(), leaseAt: at(0))
        XCTAssertNil(book.leaseWriteNeeded(for: .live), "already live")
        XCTAssertNil(book.leaseWriteNeeded(for: .ending), "nothing to write while ending")
        XCTAssertEqual(book.leaseWriteNeeded(for: .reconnecting), .reconnecting)
        XCTAssertNil(book.leaseWriteNeeded(for: .reconnecting), "one write at a time")
        XCTAssertTrue(book.leaseWritten(.reconnecting, sessionId: "ses_1", ok: false), "the first failure is said")
        XCTAssertEqual(book.leaseWriteNeeded(for: .reconnecting), .reconnecting, "asked for again")
        XCTAssertFalse(book.leaseWritten(.reconnecting, sessionId: "ses_1", ok: false), "not twice")
        XCTAssertEqual(book.leaseWriteNeeded(for: .reconnecting), .reconnecting)
        XCTAssertTrue(book.leaseWritten(.reconnecting, sessionId: "ses_1", ok: true), "back after failures: said")
        XCTAssertEqual(book.leaseState, .reconnecting)
        XCTAssertEqual(book.leaseWriteNeeded(for: .live), .live)
        XCTAssertFalse(book.leaseWritten(.live, sessionId: "ses_other", ok: true))
        XCTAssertEqual(book.leaseState, .reconnecting, "a write for another session changes nothing")
    }

    func testMediaReportIsDueOncePerPublisher() {
        var book = SessionBook()
        XCTAssertFalse(book.mediaReportDue(1, hasVideo: true, hasAudio: true, now: at(1), wait: 1), "no session")
        book.began(record(), leaseAt: at(0))
        book.connectionStarted(1, remote: "a", encoder: "e", at: at(1))
        XCTAssertFalse(book.mediaReportDue(1, hasVideo: true, hasAudio: false, now: at(1.5), wait: 1), "audio may still come")
        XCTAssertTrue(book.mediaReportDue(1, hasVideo: true, hasAudio: false, now: at(2), wait: 1), "a second passed")
        XCTAssertFalse(book.mediaReportDue(1, hasVideo: true, hasAudio: true, now: at(3), wait: 1), "once")
        book.connectionStarted(2, remote: "a", encoder: "e", at: at(4))
        XCTAssertTrue(book.mediaReportDue(2, hasVideo: true, hasAudio: true, now: at(4), wait: 1), "both tracks: at once")
        book.mediaRecorded(.string("m"))
        XCTAssertEqual(book.record?.media, .string("m"))
        book.declared(fps: 0, by: 2)
        book.declared(fps: 5000, by: 2)
        XCTAssertNil(book.declaredFps(of: 2), "nonsense rates are not kept")
    }

    func testBitrateOverItsWindow() {
        var book = SessionBook()
        XCTAssertNil(book.bitrate(now: at(0), bytes: 0, window: 10))
        XCTAssertNil(book.bitrate(now: at(5), bytes: 625_000, window: 10), "not a whole window yet")
        XCTAssertEqual(book.bitrate(now: at(10), bytes: 1_250_000, window: 10), 1000, "1,250,000 bytes in 10 s: 1000 kbit/s")
        book.connectionStarted(1, remote: "a", encoder: "e", at: at(11))
        XCTAssertNil(book.bitrate(now: at(11), bytes: 0, window: 10), "a new publisher starts a new window")
    }
}
