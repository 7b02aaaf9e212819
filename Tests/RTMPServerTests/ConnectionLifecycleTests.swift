import Logging
import NIOCore
import NIOEmbedded
import RTMPCore
@testable import RTMPServer
import TestSupport
import XCTest

/// A connection's own timers and end reason: the pure `ConnectionLifecycle`, and the handler
/// driven on an `EmbeddedChannel` whose clock the test advances — no sockets, no sleeps.
final class ConnectionLifecycleTests: XCTestCase {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine() -> ConnectionLifecycle {
        ConnectionLifecycle(handshakeTimeout: .seconds(5), mediaTimeout: .seconds(10), now: t0)
    }

    func testHandshakeDeadlineInsideAtTheEdgeAndAfter() {
        var m = machine()
        XCTAssertEqual(m.check(now: t0 + .milliseconds(4999)), .checkAgain(at: t0 + .seconds(5)))
        guard case .close(let reason, nil) = m.check(now: t0 + .seconds(5)) else { return XCTFail() }
        XCTAssertEqual(reason, "handshake not completed within 5 s")
        var done = machine()
        done.handshakeCompleted()
        guard case .checkAgain = done.check(now: t0 + .seconds(6)) else { return XCTFail("a completed handshake has no deadline") }
    }

    func testIdleConnectionThatNeverPublishesIsClosedWithoutAnEndReason() {
        var m = machine()
        m.handshakeCompleted()
        m.bytesReceived(now: t0 + .seconds(3))
        guard case .checkAgain = m.check(now: t0 + .seconds(12)) else { return XCTFail() }
        XCTAssertEqual(m.check(now: t0 + .seconds(13)), .close(reason: "idle for 10 s", endReason: nil))
    }

    /// A publishing connection whose last media came at `seconds`.
    func publishing(mediaAt seconds: Int64) -> ConnectionLifecycle {
        var m = machine()
        m.handshakeCompleted()
        m.publishStarted(now: t0)
        m.bytesReceived(now: t0 + .seconds(seconds))
        m.mediaReceived()
        return m
    }

    func testMediaTimeoutForAPublisherThatStillPingsButSendsNoMedia() {
        var m = publishing(mediaAt: 2)
        for s in 3...11 { m.bytesReceived(now: t0 + .seconds(Int64(s))) } // pings, no media
        guard case .checkAgain = m.check(now: t0 + .milliseconds(11_999)) else { return XCTFail() }
        XCTAssertEqual(m.check(now: t0 + .seconds(12)), .close(reason: "no media received for 10 s", endReason: .mediaTimeout))
        XCTAssertEqual(m.closeReason, .mediaTimeout)
    }

    func testAStreamingPublisherIsCheckedOncePerTimeoutNotEverySecond() {
        var m = publishing(mediaAt: 4)
        // Media 4 s in: nothing can time out before 14 s, and that is when to look again.
        XCTAssertEqual(m.check(now: t0 + .seconds(5)), .checkAgain(at: t0 + .seconds(14)))
        m.bytesReceived(now: t0 + .seconds(13))
        m.mediaReceived()
        XCTAssertEqual(m.check(now: t0 + .seconds(14)), .checkAgain(at: t0 + .seconds(23)))
        // Bytes without media (pings) do not move the media deadline.
        m.bytesReceived(now: t0 + .seconds(20))
        XCTAssertEqual(m.check(now: t0 + .seconds(21)), .checkAgain(at: t0 + .seconds(23)))
    }

    func testTheFirstEndReasonWins() {
        var m = machine()
        m.ending(.kicked)
        m.ending(.unpublished) // a kicked encoder may still send FCUnpublish
        XCTAssertEqual(m.closeReason, .kicked)
        XCTAssertEqual(machine().closeReason, .connectionClosed, "nothing explained it: the connection closed")
    }

    // MARK: The handler on an EmbeddedChannel

    func makeChannel(logs: LogCapture) throws -> EmbeddedChannel {
        let config = RTMPServerConfiguration(host: "127.0.0.1", port: 0, handshakeTimeoutSeconds: 5, mediaTimeoutSeconds: 10)
        let deps = RTMPConnectionHandler.Dependencies(
            configuration: config, authorizer: StaticKeyAuthorizer(keys: ["KEY"]), sink: NullIngestEventSink(),
            limiter: ConnectionLimiter(maxConnections: 10, maxPerIP: 10), throttle: PublishThrottle(maxFailuresPerMinute: 10),
            logger: logs.logger(label: "test.rtmp"), ports: BoundPorts())
        let channel = EmbeddedChannel(handler: RTMPConnectionHandler(connectionID: 1, dependencies: deps))
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 4000)).wait()
        return channel
    }

    func testHandlerClosesAStalledHandshakeWhenTheClockSaysSo() throws {
        let logs = LogCapture()
        let channel = try makeChannel(logs: logs)
        try channel.writeInbound(ByteBuffer(bytes: [3] + [UInt8](repeating: 0, count: 100))) // C0 and part of C1
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4900))
        XCTAssertTrue(channel.isActive, "not before the deadline")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        XCTAssertFalse(channel.isActive, "closed at 5 s")
        XCTAssertTrue(logs.all.contains { $0.message.contains("protocol error") && ($0.metadata["reason"] ?? "").contains("handshake not completed within 5 s") },
                      "\(logs.all.map(\.message))")
        _ = try? channel.finish()
    }

    func testHandlerClosesAConnectionThatNeverPublishes() throws {
        let logs = LogCapture()
        let channel = try makeChannel(logs: logs)
        var handshake = ClientHandshake(digest: false)
        try channel.writeInbound(handshake.start())
        // S0+S1+S2 out, C2 in: the handshake completes.
        var out = ByteBuffer()
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) { out.writeBuffer(&chunk) }
        XCTAssertGreaterThanOrEqual(out.readableBytes, 1 + 1536 * 2)
        try channel.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 0, count: 1536)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        XCTAssertTrue(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        XCTAssertFalse(channel.isActive, "idle for the media timeout without publishing")
        XCTAssertTrue(logs.all.contains { $0.message.contains("idle connection closed") }, "\(logs.all.map(\.message))")
        _ = try? channel.finish()
    }
}
