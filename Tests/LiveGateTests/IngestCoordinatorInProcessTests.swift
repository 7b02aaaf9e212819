import ChannelStore
import Foundation
import IngestCore
import LiveGate
import LiveGateModel
import RTMPCore
import RTMPServer
import XCTest

/// The coordinator's decisions (docs/contract.md §2 and §7) followed in-process on a manual
/// clock, against a real store: a publish, a reconnect, a replace, a limit kick and its stored
/// cooldown, a connection that closed before it started, a node lost and a session continued on
/// another node. Every test runs in milliseconds; none waits for time to pass.
final class IngestCoordinatorInProcessTests: XCTestCase {
    func testAPublishGoesLiveAndEndsAtItsUnpublish() async throws {
        let bench = try await IngestBench("publish")
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("a", key: "KEY_a_0123456789")
        let t0 = bench.wall.now()
        await bench.goLive("KEY_a_0123456789", connection: 1)
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live)
        let sessionId = try XCTUnwrap(stored?.sessionId)
        await bench.advance(42)
        await bench.end(1, .unpublished)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline)
        let session = try await bench.store.session(id: sessionId)
        XCTAssertEqual(session?.startedAt, t0)
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(42), "ended at the unpublish, on the injected clock")
        XCTAssertEqual(session?.endReason, "unpublished")
        let types = try await bench.types(channel: ch.id)
        XCTAssertEqual(types, ["channel.live", "channel.offline"])
    }

    /// The window after a drop: `reconnecting` with `channel.disconnected`, the same session when
    /// the publisher comes back (`channel.reconnected`), and — when it does not — the end dated
    /// at the drop, not at the window's close.
    func testTheReconnectWindowOnAManualClock() async throws {
        let bench = try await IngestBench("window")
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("w", key: "KEY_w_0123456789", window: 10)
        let t0 = bench.wall.now()
        await bench.goLive("KEY_w_0123456789", connection: 1)
        await bench.advance(5)
        await bench.end(1, .connectionClosed)
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .reconnecting)
        let sessionId = try XCTUnwrap(stored?.sessionId)
        let disconnected = try await bench.events("channel.disconnected")
        XCTAssertEqual(disconnected.count, 1)
        XCTAssertEqual(disconnected.first?.data["windowEndsAt"]?.stringValue, Timestamp.format(t0.addingTimeInterval(15)))

        await bench.advance(3)
        await bench.goLive("KEY_w_0123456789", connection: 2)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live)
        XCTAssertEqual(stored?.sessionId, sessionId, "the same session")
        let reconnected = try await bench.events("channel.reconnected")
        XCTAssertEqual(reconnected.count, 1)

        await bench.advance(2)
        await bench.end(2, .connectionClosed) // at t0 + 10
        await bench.advance(9.9)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .reconnecting, "the window is still open at 9.9 s")
        await bench.advance(0.1)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline, "closed at 10 s")
        let session = try await bench.store.session(id: sessionId)
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(10), "ended when its last publisher left")
        XCTAssertEqual(session?.endReason, "connection_closed")
        XCTAssertEqual(session?.connections.count, 2)
        let types = try await bench.types(channel: ch.id)
        XCTAssertEqual(types, ["channel.live", "channel.disconnected", "channel.reconnected", "channel.disconnected", "channel.offline"])
    }

    /// `replace`: the first publisher is kicked with `replaced` (its own end says so), the
    /// session goes on with the second; under `reject` the second is refused.
    func testReplaceAndRejectOfASecondPublisher() async throws {
        let bench = try await IngestBench("replace")
        defer { Task { await bench.close() } }
        let replace = try await bench.channel("r", key: "KEY_r_0123456789", policy: .replace)
        let reject = try await bench.channel("j", key: "KEY_j_0123456789", policy: .reject)
        await bench.goLive("KEY_r_0123456789", connection: 1)
        await bench.advance(1)
        await bench.goLive("KEY_r_0123456789", connection: 2)
        XCTAssertEqual(bench.kicked(1).map(\.reason), [.replaced])
        XCTAssertEqual(bench.kicked(1).first?.status.code, .unpublishSuccess)
        await bench.end(1, .replaced)
        let stored = try await bench.store.channel(id: replace.id)
        XCTAssertEqual(stored?.status, .live, "the replaced connection's end ends nothing")
        await bench.end(2, .unpublished)
        let session = try await bench.lastSession(replace.id)
        XCTAssertEqual(session?.connections.map(\.endReason), ["replaced", "unpublished"])
        let lives = try await bench.events("channel.live", channel: replace.id)
        XCTAssertEqual(lives.count, 1, "one session")

        await bench.goLive("KEY_j_0123456789", connection: 3)
        let second = await bench.publish("KEY_j_0123456789", connection: 4)
        XCTAssertEqual(second, .reject(.error(.publishBadName, "this stream key is already publishing")))
        XCTAssertTrue(bench.kicked(3).isEmpty)
        let refused = try await bench.events("channel.publish_rejected", channel: reject.id)
        XCTAssertEqual(refused.first?.data["reason"]?.stringValue, "duplicate")
    }

    /// `maxSessionSec` on the injected clock: the kick comes at the limit, not before; the end
    /// stores the cooldown with the channel; publishes are refused until it is cleared.
    func testALimitKickAndItsStoredCooldown() async throws {
        let bench = try await IngestBench("limit", lifecycle: .init(limitCooldown: 60))
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("l", key: "KEY_l_0123456789", user: "u9")
        try await bench.store.setUserLimits(userId: "u9", UserLimits(maxSessionSec: 30), now: bench.wall.now())
        let t0 = bench.wall.now()
        await bench.goLive("KEY_l_0123456789", connection: 1)
        await bench.advance(29.8)
        XCTAssertTrue(bench.kicked(1).isEmpty, "not before the limit")
        await bench.advance(0.2)
        XCTAssertEqual(bench.kicked(1).map(\.reason), [.kicked])
        XCTAssertEqual(bench.kicked(1).first?.status, .error(.publishRejected, "maxSessionSec"))
        let exceeded = try await bench.events("channel.limit_exceeded")
        XCTAssertEqual(exceeded.first?.data["limit"]?.stringValue, "maxSessionSec")
        await bench.end(1, .kicked)
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline)
        XCTAssertEqual(stored?.cooldownUntil, t0.addingTimeInterval(90), "stored with the channel: 60 s from the end")
        XCTAssertEqual(stored?.cooldownLimit, .maxSessionSec)

        let during = await bench.publish("KEY_l_0123456789", connection: 2)
        XCTAssertEqual(during, .reject(.error(.publishRejected, "maxSessionSec exceeded; publishing refused for 60 s")), "cooling down")
        // The operator clears it (what POST /v1/channels/{id}/clear-cooldown does).
        let cleared = try await bench.store.clearCooldown(channelId: ch.id, now: bench.wall.now())
        await bench.node().coordinator.channelEdited(try XCTUnwrap(cleared))
        try await bench.store.setUserLimits(userId: "u9", UserLimits(), now: bench.wall.now())
        await bench.node().coordinator.userLimitsChanged("u9")
        let after = await bench.publish("KEY_l_0123456789", connection: 3)
        XCTAssertEqual(after, .accept)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertNil(stored?.cooldownUntil)
    }

    /// A cooldown runs out on the clock alone.
    func testACooldownRunsOutOnTheClock() async throws {
        let bench = try await IngestBench("cooldown", lifecycle: .init(limitCooldown: 60))
        defer { Task { await bench.close() } }
        try await bench.channel("c", key: "KEY_c_0123456789", user: "u8")
        try await bench.store.setUserLimits(userId: "u8", UserLimits(maxSessionSec: 5), now: bench.wall.now())
        await bench.goLive("KEY_c_0123456789", connection: 1)
        await bench.advance(5)
        await bench.end(1, .kicked)
        try await bench.store.setUserLimits(userId: "u8", UserLimits(maxSessionSec: 5_000), now: bench.wall.now())
        await bench.advance(59.9)
        let refused = await bench.publish("KEY_c_0123456789", connection: 2)
        XCTAssertNotEqual(refused, .accept, "59.9 s after the end")
        await bench.advance(0.2)
        let accepted = await bench.publish("KEY_c_0123456789", connection: 3)
        XCTAssertEqual(accepted, .accept, "60 s after the end")
    }

    /// A connection accepted but closed before it started publishing: the window applies, the
    /// session ends at the close.
    func testAConnectionThatClosesBeforeItStarts() async throws {
        let bench = try await IngestBench("abandoned")
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("x", key: "KEY_x_0123456789", window: 10)
        let t0 = bench.wall.now()
        let decision = await bench.publish("KEY_x_0123456789", connection: 1)
        XCTAssertEqual(decision, .accept)
        bench.node().coordinator.publishAbandoned(connectionID: 1)
        await bench.node().coordinator.processed()
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .reconnecting)
        await bench.advance(10)
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline)
        let session = try await bench.lastSession(ch.id)
        XCTAssertEqual(session?.endedAt, t0)
        let again = await bench.publish("KEY_x_0123456789", connection: 2)
        XCTAssertEqual(again, .accept, "nothing of the closed connection is left behind")
    }

    /// Node loss on a manual clock: `n1` stops renewing; `n2`, healthy for a whole lease
    /// lifetime, finds its lease expired and sets the session waiting for its publisher
    /// (reconnecting, `channel.disconnected` with `node_lost`). When `n1` comes back its renewal
    /// finds the lease no longer its own: its publisher is kicked (fencing). Nobody publishes
    /// again, so the session ends `node_lost` at `n1`'s last renewal when the window closes.
    func testALostNodesSessionWaitsOutItsWindowAndItsPublisherGoesWhenItReturns() async throws {
        let bench = try await IngestBench("node-lost")
        defer { Task { await bench.close() } }
        bench.addNode("n2")
        let ch = try await bench.channel("n", key: "KEY_n_0123456789", window: 10)
        let t0 = bench.wall.now()
        await bench.goLive("KEY_n_0123456789", connection: 1, on: "n1")
        await bench.advance(0, keepLeases: ["n1", "n2"]) // n1 renews at t0
        var waitingAt: TimeInterval?
        for second in 1...(Int(SessionLease.timeToLive) * 3) {
            await bench.advance(1, keepLeases: ["n2"])
            if try await bench.store.channel(id: ch.id)?.status == .reconnecting { waitingAt = TimeInterval(second); break }
        }
        let waiting = try XCTUnwrap(waitingAt, "n2 never took n1 for lost")
        XCTAssertGreaterThanOrEqual(waiting, SessionLease.timeToLive, "not before the lease expired")
        XCTAssertLessThanOrEqual(waiting, SessionLease.timeToLive + 2, "within a sweep of its expiry")
        let disconnected = try await bench.events("channel.disconnected", channel: ch.id)
        XCTAssertEqual(disconnected.count, 1)
        XCTAssertEqual(disconnected.first?.data["reason"]?.stringValue, "node_lost")
        XCTAssertTrue(bench.kicked(1).isEmpty)

        await bench.advance(1, keepLeases: ["n1", "n2"])
        XCTAssertEqual(bench.kicked(1).count, 1, "n1 learns it lost the lease and lets its publisher go")
        for _ in 0..<12 where try await bench.store.channel(id: ch.id)?.status != .offline {
            await bench.advance(1, keepLeases: ["n1", "n2"])
        }
        let session = try await bench.lastSession(ch.id)
        XCTAssertEqual(session?.endReason, "node_lost")
        XCTAssertEqual(session?.endedAt, t0, "ended at n1's last renewal")
        let offline = try await bench.events("channel.offline", channel: ch.id)
        XCTAssertEqual(offline.count, 1, "one end")
    }

    /// A lease the store holds under n1's id for a session n1 does not carry (a publish recorded
    /// after its node had given up on it — the rolling-restart test once met one: a channel live
    /// for ever, every publisher refused as busy). n1's heartbeat, running on, does not keep it
    /// alive: it expires, the sweep sets it waiting, and its publisher continues it through n2.
    func testALeaseTheNodeDoesNotCarryIsNotKeptAliveByItsHeartbeat() async throws {
        let bench = try await IngestBench("uncarried")
        defer { Task { await bench.close() } }
        bench.addNode("n2")
        let ch = try await bench.channel("u", key: "KEY_u_0123456789", window: 30)
        await bench.goLive("KEY_u_0123456789", connection: 1, on: "n1") // carried: renewed throughout
        let other = try await bench.channel("o", key: "KEY_o_0123456789", window: 30)
        let orphan = SessionRecord(id: "ses_orphan", channelId: other.id, nodeId: "n1", startedAt: bench.wall.now(), remoteAddr: "10.0.0.9:9", encoder: "ffmpeg")
        let started = try await bench.store.acquireSession(orphan, event: .make(type: "channel.live", channelId: other.id, userId: "u1", at: bench.wall.now(),
                                                                                data: .object([:])),
                                                           now: bench.wall.now(), takeOver: false, rule: CrossNodeDecision.rule)
        guard case .started = started else { return XCTFail("\(started)") }
        // n1 renews every second; its publisher of the other channel stays.
        var waitingAt: Int?
        for second in 1...(Int(SessionLease.timeToLive) * 3) {
            await bench.advance(1, keepLeases: ["n1", "n2"])
            if try await bench.store.channel(id: other.id)?.status == .reconnecting { waitingAt = second; break }
        }
        let waiting = try XCTUnwrap(waitingAt, "the lease n1 does not carry was kept alive")
        XCTAssertLessThanOrEqual(waiting, Int(SessionLease.timeToLive) + 2, "within a sweep of its expiry")
        let carried = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(carried?.status, .live, "n1's own session is renewed")
        XCTAssertTrue(bench.kicked(1).isEmpty)
        // Its publisher, back through n2, continues that session.
        await bench.goLive("KEY_o_0123456789", connection: 2, on: "n2")
        let continued = try await bench.store.channel(id: other.id)
        XCTAssertEqual(continued?.status, .live)
        XCTAssertEqual(continued?.sessionId, "ses_orphan")
    }

    /// A publish recorded while a renewal is under way: its lease was got before the renewal
    /// began, its book filled during the renewal's round trip — so the renewal was not asked
    /// about it and did not renew it. It is not "no longer held": the publisher stays, nothing
    /// is logged as uncarried, and the next rounds renew it. (Judged by its book alone it was
    /// let go a moment after going live — 66 publishers over five benchmark runs of 1,500.)
    func testAPublishRecordedDuringARenewalKeepsItsLease() async throws {
        let bench = try await IngestBench("renewal-race", flaky: true)
        defer { Task { await bench.close() } }
        let flaky = try XCTUnwrap(bench.flaky)
        _ = try await bench.channel("a", key: "KEY_a_0123456789", window: 10)
        let b = try await bench.channel("b", key: "KEY_b_0123456789", window: 10)
        await bench.goLive("KEY_a_0123456789", connection: 1) // a session to renew
        // The publish of b reaches the store and waits there (its lease time: now).
        let acquired = flaky.arrived("acquireSession")
        flaky.hold("acquireSession")
        let publishing = Task { await bench.publish("KEY_b_0123456789", connection: 2) }
        let reached = await eventually(10) { flaky.arrived("acquireSession") == acquired + 1 }
        XCTAssertTrue(reached)
        // A renewal begins later, carrying a only, and waits at the store in turn.
        bench.wall.advance(by: LeaseKeeping.Configuration().renewInterval)
        flaky.hold("renewLeases")
        let renewals = flaky.arrived("renewLeases")
        let renewing = Task { await bench.node().coordinator.keepLeases() }
        let renewalReached = await eventually(10) { flaky.arrived("renewLeases") == renewals + 1 }
        XCTAssertTrue(renewalReached)
        // The publish is recorded and answered; then the renewal comes back without it.
        flaky.release("acquireSession")
        let decision = await publishing.value
        XCTAssertEqual(decision, .accept)
        await bench.start(2, key: "KEY_b_0123456789")
        flaky.release("renewLeases")
        await renewing.value
        XCTAssertTrue(bench.kicked(2).isEmpty, "let go after the renewal: \(bench.kicked(2))")
        // The next rounds renew it: still live well past the lease's life.
        for _ in 0..<4 { await bench.advance(LeaseKeeping.Configuration().renewInterval, keepLeases: ["n1"]) }
        XCTAssertTrue(bench.kicked(2).isEmpty && bench.kicked(1).isEmpty)
        let lease = try await bench.store.lease(channelId: b.id)
        XCTAssertGreaterThan(try XCTUnwrap(lease?.expiresAt), bench.wall.now(), "renewed by the later rounds")
        let stored = try await bench.store.channel(id: b.id)
        XCTAssertEqual(stored?.status, .live)
    }

    /// A crashed node's live session is continued by its publisher coming back through another
    /// node inside the window: the same session, `channel.disconnected` then
    /// `channel.reconnected`, no offline/live pair.
    func testALostNodesPublisherComingBackElsewhereContinuesItsSession() async throws {
        let bench = try await IngestBench("node-lost-back")
        defer { Task { await bench.close() } }
        bench.addNode("n2")
        let ch = try await bench.channel("b", key: "KEY_b_0123456789", window: 10)
        await bench.goLive("KEY_b_0123456789", connection: 1, on: "n1")
        await bench.advance(0, keepLeases: ["n1", "n2"])
        let before = try await bench.store.channel(id: ch.id)
        let sessionId = try XCTUnwrap(before?.sessionId)
        // n1 dies (renews no more); its lease expires; the publisher comes back through n2.
        await bench.advance(SessionLease.timeToLive + 0.5, keepLeases: ["n2"])
        await bench.goLive("KEY_b_0123456789", connection: 2, on: "n2")
        let stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live)
        XCTAssertEqual(stored?.sessionId, sessionId, "the same session")
        let types = try await bench.types(channel: ch.id)
        XCTAssertEqual(types.filter { $0.hasPrefix("channel.") }, ["channel.live", "channel.disconnected", "channel.reconnected"], "\(types)")
    }

    /// Across nodes: a live session on n1 refuses a publish through n2 (busy); once its
    /// publisher dropped, the same key through n2 continues the session there.
    func testASessionContinuesOnAnotherNodeInsideItsWindow() async throws {
        let bench = try await IngestBench("across")
        defer { Task { await bench.close() } }
        bench.addNode("n2")
        let ch = try await bench.channel("m", key: "KEY_m_0123456789", window: 10)
        await bench.goLive("KEY_m_0123456789", connection: 1, on: "n1")
        let busy = await bench.publish("KEY_m_0123456789", connection: 2, on: "n2")
        XCTAssertNotEqual(busy, .accept, "live on n1")
        let before = try await bench.store.channel(id: ch.id)
        let sessionId = try XCTUnwrap(before?.sessionId)
        await bench.advance(2)
        await bench.end(1, .connectionClosed, on: "n1")
        await bench.advance(2)
        await bench.goLive("KEY_m_0123456789", connection: 3, on: "n2")
        var stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live)
        XCTAssertEqual(stored?.sessionId, sessionId, "the same session, now on n2")
        // n1's window runs out on its clock: it no longer holds the session, so it ends nothing.
        await bench.advance(11, keepLeases: ["n1", "n2"])
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .live, "n1 does not end n2's session")
        await bench.end(3, .unpublished, on: "n2")
        stored = try await bench.store.channel(id: ch.id)
        XCTAssertEqual(stored?.status, .offline)
        let offline = try await bench.events("channel.offline", channel: ch.id)
        XCTAssertEqual(offline.count, 1)
        XCTAssertEqual(offline.first?.data["session"]?["reason"]?.stringValue, "unpublished")
    }

    /// `maxBitrateKbps` is judged over a sustained 10 s of the injected clock: 1,600 kbit/s
    /// against a limit of 1,000 is cut at 10 s, not at 9.9; 800 kbit/s for a minute never is.
    func testASustainedBitrateOverTheLimitIsCutAtTenSeconds() async throws {
        let bench = try await IngestBench("bitrate")
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("b", key: "KEY_b_0123456789", user: "u7")
        try await bench.channel("s", key: "KEY_s_0123456789", user: "u7")
        try await bench.store.setUserLimits(userId: "u7", UserLimits(maxBitrateKbps: 1000), now: bench.wall.now())
        await bench.goLive("KEY_b_0123456789", connection: 1)
        await bench.goLive("KEY_s_0123456789", connection: 2)
        await bench.advance(0)
        for tenth in 1...99 {
            bench.send(1, bytes: 20_000) // 1,600 kbit/s
            bench.send(2, bytes: 10_000) // 800 kbit/s
            await bench.advance(0.1)
            XCTAssertTrue(bench.kicked(1).isEmpty, "cut after \(Double(tenth) / 10) s")
        }
        bench.send(1, bytes: 20_000)
        bench.send(2, bytes: 10_000)
        await bench.advance(0.1)
        XCTAssertEqual(bench.kicked(1).first?.status, .error(.publishRejected, "maxBitrateKbps"))
        let exceeded = try await bench.events("channel.limit_exceeded", channel: ch.id)
        XCTAssertEqual(exceeded.first?.data["limit"]?.stringValue, "maxBitrateKbps")
        XCTAssertEqual(exceeded.first?.data["value"], .number(1600), "measured over the window")
        for _ in 0..<500 {
            bench.send(2, bytes: 10_000)
            await bench.advance(0.1)
        }
        XCTAssertTrue(bench.kicked(2).isEmpty, "under the limit: never cut")
    }

    /// The refusals of the decision table, each recorded with its reason: an unknown key, a
    /// disabled channel, a key `reset-key` retired (`key_rotated`, naming the channel), a
    /// `connect` to another application (`unknown_app`) — the last two once per address and minute.
    func testEveryRefusalOfTheTableIsRecordedWithItsReason() async throws {
        let bench = try await IngestBench("refusals-table")
        defer { Task { await bench.close() } }
        let off = try await bench.channel("off", key: "KEY_off_0123456789")
        _ = try await bench.store.updateChannel(id: off.id, fields: ChannelFields(enabled: false), now: bench.wall.now())
        let rotated = try await bench.channel("rot", key: "KEY_rot_0123456789")
        _ = try await bench.store.resetStreamKey(id: rotated.id, newKey: "KEY_rot_new_0123456789", now: bench.wall.now())

        let unknown = await bench.publish("KEY_nobody_0123456789", connection: 1)
        XCTAssertEqual(unknown, .reject(.error(.publishUnauthorized, "unknown stream key")))
        let disabled = await bench.publish("KEY_off_0123456789", connection: 2)
        XCTAssertEqual(disabled, .reject(.error(.publishUnauthorized, "channel is disabled")))
        for connection in UInt64(3)...4 {
            let old = await bench.publish("KEY_rot_0123456789", connection: connection)
            XCTAssertEqual(old, .reject(.error(.publishUnauthorized, "unknown stream key")), "to the encoder a retired key is unknown")
        }
        for _ in 0..<2 { bench.node().coordinator.applicationRejected(app: "other", remoteAddress: "10.0.0.1:5000") }
        await bench.node().coordinator.processed()

        let events = try await bench.events("channel.publish_rejected")
        XCTAssertEqual(events.map { $0.data["reason"]?.stringValue }, ["unknown_key", "disabled", "key_rotated", "unknown_app"])
        XCTAssertEqual(events[2].channelId, rotated.id, "key_rotated names the channel")
        XCTAssertEqual(events[3].data["app"]?.stringValue, "other")
        let metrics = await bench.node().coordinator.prometheusText()
        for (reason, count) in [("unknown_key", 1), ("disabled", 1), ("key_rotated", 2), ("unknown_app", 2)] {
            XCTAssertTrue(metrics.contains("livegate_publish_rejections_total{reason=\"\(reason)\"} \(count)"), "\(reason): \(metrics)")
        }
        await bench.advance(60)
        let again = await bench.publish("KEY_rot_0123456789", connection: 5)
        XCTAssertNotEqual(again, .accept)
        let later = try await bench.events("channel.publish_rejected")
        XCTAssertEqual(later.count, 5, "a minute later the same address is recorded again")
    }

    /// A channel disabled, deleted or given a new key while live: its publisher is kicked and the
    /// session ends with the change's reason — no reconnect window for a change.
    func testAChannelChangeKicksThePublisherAndEndsTheSession() async throws {
        let bench = try await IngestBench("changes")
        defer { Task { await bench.close() } }
        for (i, change) in [ChannelChange.disabled, .deleted, .keyReset].enumerated() {
            let ch = try await bench.channel("c\(i)", key: "KEY_c\(i)_0123456789", window: 30)
            await bench.goLive("KEY_c\(i)_0123456789", connection: UInt64(10 + i))
            await bench.advance(1)
            await bench.node().coordinator.channelChanged(ch.id, change: change)
            XCTAssertEqual(bench.kicked(UInt64(10 + i)).map(\.reason), [.kicked], "\(change)")
            await bench.end(UInt64(10 + i), .kicked)
            let session = try await bench.lastSession(ch.id)
            XCTAssertEqual(session?.endReason, change.offlineReason.rawValue, "\(change)")
            XCTAssertNotNil(session?.endedAt, "ended at once, not after the 30 s window")
        }
    }

    /// A publisher dropped for silence left at its last media: the session (its window over)
    /// ends `ingest.mediaTimeoutSec` before the timeout was seen.
    func testAMediaTimeoutEndsTheSessionAtTheLastMedia() async throws {
        let bench = try await IngestBench("media-timeout", lifecycle: .init(mediaTimeout: 10))
        defer { Task { await bench.close() } }
        let ch = try await bench.channel("t", key: "KEY_t_0123456789", window: 5)
        let t0 = bench.wall.now()
        await bench.goLive("KEY_t_0123456789", connection: 1)
        await bench.advance(30)
        await bench.end(1, .mediaTimeout) // seen at t0 + 30: the last media came at t0 + 20
        await bench.advance(5)
        let session = try await bench.lastSession(ch.id)
        XCTAssertEqual(session?.endReason, "media_timeout")
        XCTAssertEqual(session?.endedAt, t0.addingTimeInterval(20))
    }

    /// `replace` across nodes: a publish through n2 takes the session over from n1, whose
    /// publisher is let go when n1 learns the lease moved; one session, one offline.
    func testReplaceAcrossNodesTakesTheSessionOver() async throws {
        let bench = try await IngestBench("replace-across")
        defer { Task { await bench.close() } }
        bench.addNode("n2")
        let ch = try await bench.channel("x", key: "KEY_x_0123456789", policy: .replace)
        await bench.goLive("KEY_x_0123456789", connection: 1, on: "n1")
        let sessionId = try await bench.store.channel(id: ch.id)?.sessionId
        await bench.advance(1)
        await bench.goLive("KEY_x_0123456789", connection: 2, on: "n2")
        let continued = try await bench.store.channel(id: ch.id)?.sessionId
        XCTAssertEqual(continued, sessionId, "the same session, continued on n2")
        XCTAssertTrue(bench.kicked(1).isEmpty, "n1 has not heard yet (no NOTIFY on SQLite)")
        await bench.advance(2, keepLeases: ["n1"])
        XCTAssertEqual(bench.kicked(1).count, 1, "n1's renewal finds the lease gone: its publisher goes")
        await bench.end(1, .kicked, on: "n1")
        await bench.advance(1, keepLeases: ["n1", "n2"])
        let status = try await bench.store.channel(id: ch.id)?.status
        XCTAssertEqual(status, .live, "n1 ends nothing of n2's session")
        await bench.end(2, .unpublished, on: "n2")
        let offline = try await bench.events("channel.offline", channel: ch.id)
        XCTAssertEqual(offline.count, 1)
        let lives = try await bench.events("channel.live", channel: ch.id)
        XCTAssertEqual(lives.count, 1)
    }
}
