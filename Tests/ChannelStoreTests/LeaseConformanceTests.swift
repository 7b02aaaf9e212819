import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import XCTest

/// Channel leases and delivery claims (issue #14 items 2–4) on both stores: the decision table
/// across nodes, the reconnect window carried by the lease, lost nodes' sessions ended exactly
/// once, and claims that only one of several racing nodes wins.
extension ChannelStoreConformanceTests {
    private func live(_ channel: String, _ session: String, node: String) -> (SessionRecord, NewEvent) {
        (SessionRecord(id: p + session, channelId: p + channel, nodeId: node, startedAt: Date(), remoteAddr: "10.0.0.1:1", encoder: "ffmpeg"),
         .make(type: "channel.live", channelId: p + channel, userId: p + "u", at: Date(), data: .object([:])))
    }

    private func offlineEvents(_ session: String) async throws -> [StoredEvent] {
        try await store.events(EventQuery(types: ["channel.offline"], limit: 1000)).items.filter {
            if case .object(let o) = $0.payload, case .object(let d)? = o["data"], case .object(let s)? = d["session"], case .string(let id)? = s["id"] {
                return id == p + session
            }
            return false
        }
    }

    private func offlineReason(_ event: StoredEvent) -> String? {
        if case .object(let o) = event.payload, case .object(let d)? = o["data"], case .object(let s)? = d["session"], case .string(let r)? = s["reason"] { return r }
        return nil
    }

    func testTheLeaseDecidesEveryPublishAcrossNodes() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        _ = try await store.createChannel(id: p + "c", streamKey: p + "k", fields: fields("c", user: "u"), now: t0)
        let (s1, e1) = live("c", "s1", node: "A")
        guard case .started = try await store.acquireSession(s1, event: e1, now: t0, takeOver: false, rule: CrossNodeDecision.rule) else { return XCTFail("a free channel starts a session") }
        // Another node, policy reject: busy there.
        let (s2, e2) = live("c", "s2", node: "B")
        let busy = try await store.acquireSession(s2, event: e2, now: t0.addingTimeInterval(1), takeOver: false, rule: CrossNodeDecision.rule)
        XCTAssertEqual(busy, .busy(node: "A", retryAt: t0.addingTimeInterval(SessionLease.timeToLive), late: false), "renewed on time: busy until its expiry")
        // Policy replace: the session moves to B, whole.
        guard case .continued(let moved, let from, let replaced) = try await store.acquireSession(s2, event: e2, now: t0.addingTimeInterval(2), takeOver: true, rule: CrossNodeDecision.rule) else {
            return XCTFail("replace takes the session over")
        }
        XCTAssertEqual(moved.id, s1.id)
        XCTAssertEqual(moved.nodeId, "B")
        XCTAssertEqual(from, "A")
        XCTAssertTrue(replaced)
        let s2Row = try await store.session(id: s2.id)
        XCTAssertNil(s2Row, "no second session")
        // A no longer holds it: its end and its lease writes are refused.
        let endedByA = try await store.endSession(id: s1.id, reason: "kicked", now: t0.addingTimeInterval(3),
                                                  event: .make(type: "channel.offline", channelId: p + "c", userId: nil, at: t0, data: .object([:])), byNode: "A")
        XCTAssertNil(endedByA)
        let stillOpen = try await store.session(id: s1.id)
        XCTAssertNil(stillOpen?.endedAt)
        let markedByA = try await store.markLease(channelId: p + "c", sessionId: s1.id, nodeId: "A", state: .reconnecting, windowEndsAt: nil, endReason: nil, now: t0)
        XCTAssertFalse(markedByA)
        // B's publisher is lost: reconnecting for 10 s; a publish on C inside the window continues it.
        let marked = try await store.markLease(channelId: p + "c", sessionId: s1.id, nodeId: "B", state: .reconnecting,
                                               windowEndsAt: t0.addingTimeInterval(14), endReason: "connection_closed", now: t0.addingTimeInterval(4))
        XCTAssertTrue(marked)
        let (s3, e3) = live("c", "s3", node: "C")
        guard case .continued(let again, "B", false) = try await store.acquireSession(s3, event: e3, now: t0.addingTimeInterval(5), takeOver: false, rule: CrossNodeDecision.rule) else {
            return XCTFail("a reconnect inside the window continues the session")
        }
        XCTAssertEqual(again.id, s1.id)
        // C loses it too; a publish after the window closed ends it with the window's reason and starts anew.
        _ = try await store.markLease(channelId: p + "c", sessionId: s1.id, nodeId: "C", state: .reconnecting,
                                      windowEndsAt: t0.addingTimeInterval(7), endReason: "media_timeout", now: t0.addingTimeInterval(6))
        let (s4, e4) = live("c", "s4", node: "A")
        guard case .started = try await store.acquireSession(s4, event: e4, now: t0.addingTimeInterval(8), takeOver: false, rule: CrossNodeDecision.rule) else {
            return XCTFail("after the window a new session starts")
        }
        let s1Ends = try await offlineEvents("s1")
        XCTAssertEqual(s1Ends.count, 1)
        XCTAssertEqual(s1Ends.first.flatMap(offlineReason), "media_timeout")
        let renewedA = try await store.renewLeases(nodeId: "A", carrying: [p + "c": s4.id], now: t0.addingTimeInterval(9), stats: [p + "c": #"{"status":"live"}"#])
        XCTAssertEqual(renewedA, LeaseRenewal(held: [p + "c": s4.id]))
        let renewedC = try await store.renewLeases(nodeId: "C", carrying: [p + "c": s1.id], now: t0.addingTimeInterval(9), stats: [:])
        XCTAssertEqual(renewedC, LeaseRenewal(held: [:]))
        let lease = try await store.lease(channelId: p + "c")
        XCTAssertEqual(lease?.stats, #"{"status":"live"}"#)
        // A stops renewing: not lost before the lease's time to live. After it, its live
        // session is not ended: it waits for its publisher (the channel's 10 s window, counted
        // from A's last renewal), reconnecting, with `channel.disconnected` — once.
        let ttl = SessionLease.timeToLive
        let early = try await store.claimExpiredLeases(now: t0.addingTimeInterval(9 + ttl - 1), limit: 10)
        XCTAssertEqual(early, [])
        // Overdue but not expired: a publish is held (asked again at the expiry), not refused.
        let (s4b, e4b) = live("c", "s4b", node: "B")
        let held = try await store.acquireSession(s4b, event: e4b, now: t0.addingTimeInterval(9 + ttl - 1), takeOver: false, rule: CrossNodeDecision.rule)
        XCTAssertEqual(held, .busy(node: "A", retryAt: t0.addingTimeInterval(9 + ttl), late: true))
        let lost = try await store.claimExpiredLeases(now: t0.addingTimeInterval(9 + ttl + 1), limit: 10)
        XCTAssertEqual(lost.map(\.session.id), [s4.id])
        XCTAssertEqual(lost.first?.lostNode, "A")
        XCTAssertEqual(lost.first?.waitingUntil, t0.addingTimeInterval(9 + 10))
        XCTAssertNil(lost.first?.session.endedAt, "not ended: waiting for its publisher")
        let waiting = try await store.channel(id: p + "c")
        XCTAssertEqual(waiting?.status, .reconnecting)
        let twice = try await store.claimExpiredLeases(now: t0.addingTimeInterval(9 + ttl + 2), limit: 10)
        XCTAssertEqual(twice, [])
        // Fencing: A, alive after all, no longer renews it — it was taken for lost.
        let renewedLate = try await store.renewLeases(nodeId: "A", carrying: [p + "c": s4.id], now: t0.addingTimeInterval(9 + ttl + 2), stats: [:])
        XCTAssertEqual(renewedLate, LeaseRenewal(held: [:]))
        // Nobody came back: at the window's end it ends with node_lost, at A's last renewal.
        let ended = try await store.claimExpiredLeases(now: t0.addingTimeInterval(9 + 10 + 1), limit: 10)
        XCTAssertEqual(ended.map(\.session.id), [s4.id])
        XCTAssertNil(ended.first?.waitingUntil)
        XCTAssertEqual(ended.first?.session.endReason, "node_lost")
        XCTAssertEqual(ended.first?.session.endedAt, t0.addingTimeInterval(9))
        let s4Ends = try await offlineEvents("s4")
        XCTAssertEqual(s4Ends.map(offlineReason), ["node_lost"])
        let channel = try await store.channel(id: p + "c")
        XCTAssertEqual(channel?.status, .offline)
        // The lost node coming back cannot end it again.
        let late = try await store.endSession(id: s4.id, reason: "node_lost", now: t0.addingTimeInterval(31),
                                              event: .make(type: "channel.offline", channelId: p + "c", userId: nil, at: t0, data: .object([:])), byNode: "A")
        XCTAssertNil(late)
        // A publish that finds an expired live lease inside the window continues its session
        // (the crashed node's publisher, back through another node) — no offline/live pair.
        let (s5, e5) = live("c", "s5", node: "A")
        _ = try await store.acquireSession(s5, event: e5, now: t0.addingTimeInterval(40), takeOver: false, rule: CrossNodeDecision.rule)
        let (s6, e6) = live("c", "s6", node: "B")
        guard case .continued(let taken, "A", false) = try await store.acquireSession(s6, event: e6, now: t0.addingTimeInterval(40 + ttl + 1), takeOver: false,
                                                                                    rule: CrossNodeDecision.rule) else {
            return XCTFail("a dead node's session is continued inside the window")
        }
        XCTAssertEqual(taken.id, s5.id)
        let s5Ends = try await offlineEvents("s5")
        XCTAssertEqual(s5Ends.count, 0)
        let lifecycle = try await store.events(EventQuery(types: ["channel.disconnected", "channel.reconnected"], limit: 100)).items
            .filter { $0.channelId == p + "c" }.map(\.type)
        XCTAssertEqual(Array(lifecycle.suffix(2)), ["channel.disconnected", "channel.reconnected"])
        // After the window a publish finds the session over: node_lost, then its own.
        let (s7, e7) = live("c", "s7", node: "C")
        guard case .started = try await store.acquireSession(s7, event: e7, now: t0.addingTimeInterval(40 + ttl + 1 + ttl + 10 + 1), takeOver: false,
                                                             rule: CrossNodeDecision.rule) else {
            return XCTFail("an expired lease past its window does not block")
        }
        let s5Over = try await offlineEvents("s5")
        XCTAssertEqual(s5Over.map(offlineReason), ["node_lost"])
    }

    /// Nodes racing: of eight publishes at once exactly one starts a session; of eight sweeps at
    /// once exactly one ends the lost session; of eight claims of a delivery exactly one wins.
    /// One renewal carries every channel's figures in its one statement (issue #24: it was one
    /// statement per channel): each held lease gets its own, a lease without figures keeps what
    /// it had, and figures for a channel the node does not hold change nothing.
    /// A new session's rows carry one time, in the store's one format (RFC 3339, UTC, the
    /// millisecond rounded): the lease's expiry is that time plus the lease's life, the channel's
    /// last live time and the event's are that time. PostgreSQL writes a new session in one
    /// statement that formats the time itself (`startSessionInOneStatement`): a half-millisecond
    /// instant checks its rounding against `Timestamp.format`; with the database's clock, the
    /// time is the database's, between the instants read around the call.
    func testANewSessionsTimesAreOneInstantInTheStoresFormat() async throws {
        let t = Date(timeIntervalSince1970: 1_765_000_000.9316) // .932 once rounded
        _ = try await store.createChannel(id: p + "c", streamKey: p + "k", fields: fields("c", user: "u"), now: t)
        let (s1, e1) = live("c", "s1", node: "A")
        guard case .started(let event) = try await store.acquireSession(s1, event: e1, now: t, takeOver: false, rule: CrossNodeDecision.rule) else {
            return XCTFail("a free channel starts a session")
        }
        let at = Timestamp.parse(Timestamp.format(t))
        let lease = try await store.lease(channelId: p + "c")
        XCTAssertEqual(lease?.expiresAt, Timestamp.parse(Timestamp.format(t.addingTimeInterval(SessionLease.timeToLive))))
        let channel = try await store.channel(id: p + "c")
        XCTAssertEqual(channel?.lastLiveAt, at)
        XCTAssertEqual(channel?.status, .live)
        XCTAssertEqual(channel?.sessionId, s1.id)
        let stored = try await store.events(EventQuery(after: event.seq - 1, limit: 1)).items.first
        XCTAssertEqual(stored?.createdAt, at, "the event's row")
        XCTAssertEqual(stored?.seq, event.seq)

        // The database's clock (PostgreSQL; SQLite has one writer's clock: the caller's).
        var timing = store.leaseTiming
        timing.databaseClock = true
        store.leaseTiming = timing
        _ = try await store.createChannel(id: p + "d", streamKey: p + "kd", fields: fields("d", user: "u"), now: Date())
        let (s2, e2) = live("d", "s2", node: "A")
        let before = Date(timeIntervalSinceNow: -1), skewed = Date(timeIntervalSinceNow: -3600)
        guard case .started = try await store.acquireSession(s2, event: e2, now: skewed, takeOver: false, rule: CrossNodeDecision.rule) else {
            return XCTFail("a free channel starts a session")
        }
        let after = Date(timeIntervalSinceNow: 1)
        let channelD = try await store.channel(id: p + "d")
        let liveAt = try XCTUnwrap(channelD?.lastLiveAt)
        let expected = store.backendName == "postgres" ? before...after : skewed.addingTimeInterval(-0.001)...skewed.addingTimeInterval(0.001)
        XCTAssertTrue(expected.contains(liveAt), "\(liveAt) in \(expected)")
        let leaseD = try await store.lease(channelId: p + "d")
        let expiry = try XCTUnwrap(leaseD?.expiresAt)
        XCTAssertEqual(expiry.timeIntervalSince(liveAt), SessionLease.timeToLive, accuracy: 0.0005)
    }

    func testOneRenewalWritesEachHeldLeasesOwnFigures() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        for c in ["r1", "r2", "r3", "rb"] {
            _ = try await store.createChannel(id: p + c, streamKey: p + "k" + c, fields: fields(c, user: "u"), now: t0)
        }
        for (c, node) in [("r1", "A"), ("r2", "A"), ("r3", "A"), ("rb", "B")] {
            let (s, e) = live(c, "s" + c, node: node)
            guard case .started = try await store.acquireSession(s, event: e, now: t0, takeOver: false, rule: CrossNodeDecision.rule) else {
                return XCTFail("\(c) starts")
            }
        }
        let carried = [p + "r1": p + "sr1", p + "r2": p + "sr2", p + "r3": p + "sr3"]
        _ = try await store.renewLeases(nodeId: "A", carrying: carried, now: t0.addingTimeInterval(1), stats: [p + "r3": #"{"kbps":3}"#])
        let held = try await store.renewLeases(nodeId: "A", carrying: carried, now: t0.addingTimeInterval(2), stats: [
            p + "r1": #"{"kbps":1,"note":"it's \"quoted\""}"#, p + "r2": #"{"kbps":2}"#, p + "rb": #"{"kbps":99}"#,
        ])
        XCTAssertEqual(held, LeaseRenewal(held: carried))
        let r1 = try await store.lease(channelId: p + "r1"), r2 = try await store.lease(channelId: p + "r2")
        let r3 = try await store.lease(channelId: p + "r3"), rb = try await store.lease(channelId: p + "rb")
        XCTAssertEqual(r1?.stats, #"{"kbps":1,"note":"it's \"quoted\""}"#)
        XCTAssertEqual(r2?.stats, #"{"kbps":2}"#)
        XCTAssertEqual(r3?.stats, #"{"kbps":3}"#, "no figures this round: the last ones stay")
        XCTAssertNil(rb?.stats, "another node's lease is not written")
        XCTAssertEqual(r1?.expiresAt, t0.addingTimeInterval(2 + SessionLease.timeToLive))
        XCTAssertEqual(r3?.expiresAt, t0.addingTimeInterval(2 + SessionLease.timeToLive), "renewed without figures too")
    }

    /// A lease the store holds under a node's id for a session that node does not carry (a
    /// publish recorded after its node gave up on it) is not kept alive by the node's heartbeat:
    /// renewed blindly, it stayed live for ever and every publisher of the channel was refused as
    /// busy. It is reported, expires, and the sweep takes it up as a lost node's: waiting for its
    /// publisher inside the window, which continues it on any node.
    func testARenewalKeepsOnlyTheSessionsTheNodeCarries() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        for c in ["o1", "o2"] {
            var f = fields(c, user: "u")
            f.reconnectWindowSec = 30
            _ = try await store.createChannel(id: p + c, streamKey: p + "k" + c, fields: f, now: t0)
            let (s, e) = live(c, "s" + c, node: "A")
            guard case .started = try await store.acquireSession(s, event: e, now: t0, takeOver: false, rule: CrossNodeDecision.rule) else {
                return XCTFail("\(c) starts")
            }
        }
        // A carries o1 only (and names a session of o2 that is not the one its lease is for).
        let ttl = SessionLease.timeToLive
        for second in stride(from: 2.0, through: 12, by: 2) {
            let renewal = try await store.renewLeases(nodeId: "A", carrying: [p + "o1": p + "so1", p + "o2": p + "other"], now: t0.addingTimeInterval(second), stats: [
                p + "o1": #"{"kbps":1}"#, p + "o2": #"{"kbps":2}"#])
            XCTAssertEqual(renewal, LeaseRenewal(held: [p + "o1": p + "so1"], notCarried: [p + "o2": p + "so2"]), "at +\(second) s")
        }
        let o1 = try await store.lease(channelId: p + "o1"), o2 = try await store.lease(channelId: p + "o2")
        XCTAssertEqual(o1?.expiresAt, t0.addingTimeInterval(12 + ttl))
        XCTAssertEqual(o2?.expiresAt, t0.addingTimeInterval(ttl), "not renewed since it was taken")
        XCTAssertNil(o2?.stats, "nothing written under a lease not carried")
        // Another node's publish of o2 meets a busy lease while it is fresh …
        let (b1, e1) = live("o2", "sb1", node: "B")
        let early = try await store.acquireSession(b1, event: e1, now: t0.addingTimeInterval(1), takeOver: false, rule: CrossNodeDecision.rule)
        XCTAssertEqual(early, .busy(node: "A", retryAt: t0.addingTimeInterval(ttl), late: false))
        // … and the sweep takes it up: waiting for its publisher, the window counted from the take.
        let lost = try await store.claimExpiredLeases(now: t0.addingTimeInterval(13), limit: 10)
        XCTAssertEqual(lost.map(\.session.id), [p + "so2"])
        XCTAssertEqual(lost.first?.waitingUntil, t0.addingTimeInterval(30))
        let waiting = try await store.channel(id: p + "o2"), carriedOne = try await store.channel(id: p + "o1")
        XCTAssertEqual(waiting?.status, .reconnecting)
        XCTAssertEqual(carriedOne?.status, .live, "the carried one is untouched")
        // Its publisher, back through B, continues the session.
        let (b2, e2) = live("o2", "sb2", node: "B")
        guard case .continued(let continued, "A", false) = try await store.acquireSession(b2, event: e2, now: t0.addingTimeInterval(14), takeOver: false,
                                                                                         rule: CrossNodeDecision.rule) else { return XCTFail("continues on B") }
        XCTAssertEqual(continued.id, p + "so2")
    }

    func testRacingNodesTakeOneLeaseEndOnceAndClaimOnce() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        var noWindow = fields("r", user: "u")
        noWindow.reconnectWindowSec = 0 // a lost node's session ends at once (nothing to wait for)
        _ = try await store.createChannel(id: p + "r", streamKey: p + "kr", fields: noWindow, now: t0)
        _ = try await store.createWebhook(id: p + "wh", secret: "whsec_x", fields: WebhookFields(url: "http://127.0.0.1:9/x"), now: t0)
        let store = self.store!
        let p = self.p
        let outcomes = try await withThrowingTaskGroup(of: SessionStart.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let session = SessionRecord(id: p + "race\(i)", channelId: p + "r", nodeId: "N\(i)", startedAt: t0, remoteAddr: "10.0.0.\(i):1", encoder: "x")
                    return try await store.acquireSession(session, event: .make(type: "channel.live", channelId: p + "r", userId: p + "u", at: t0, data: .object([:])),
                                                          now: t0, takeOver: false, rule: CrossNodeDecision.rule)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let started = outcomes.filter { if case .started = $0 { return true } else { return false } }
        XCTAssertEqual(started.count, 1, "\(outcomes)")
        XCTAssertEqual(outcomes.filter { if case .busy = $0 { return true } else { return false } }.count, 7)
        let sweeps = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await store.claimExpiredLeases(now: t0.addingTimeInterval(SessionLease.timeToLive + 1), limit: 10).count } }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(sweeps, 1)
        let offline = try await store.events(EventQuery(types: ["channel.offline"], limit: 100)).items.filter { $0.channelId == p + "r" }
        XCTAssertEqual(offline.count, 1)
        let listed = try await store.deliveries(webhookId: p + "wh", limit: 100, cursor: nil).items
        let delivery = try XCTUnwrap(listed.last, "the oldest: its lane's head (the offline one waits behind it)")
        let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask { try await store.claimDelivery(deliveryId: delivery.id, node: "N\(i)", claimUntil: t0.addingTimeInterval(60), now: t0) }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(claims.filter { $0 }.count, 1, "\(claims)")
        // The claim's holder records; another node's late outcome for it does not.
        let foreign = try await store.recordAttempt(DeliveryAttempt(deliveryId: delivery.id, webhookId: p + "wh", attempt: 1, state: .delivered, statusCode: 200,
                                                                    latencyMs: 1, excerpt: nil, nextAttemptAt: t0, disableAfter: nil, claimedBy: "nobody"), now: t0)
        XCTAssertNil(foreign)
        let stillSending = try await store.deliveries(webhookId: p + "wh", limit: 100, cursor: nil).items.first { $0.id == delivery.id }
        XCTAssertEqual(stillSending?.attempt, 0)
        // The holder dies: its claim expires and the delivery is due again for everyone.
        let early = try await store.releaseExpiredClaims(now: t0.addingTimeInterval(59))
        XCTAssertEqual(early, 0)
        let released = try await store.releaseExpiredClaims(now: t0.addingTimeInterval(61))
        XCTAssertEqual(released, 1)
        let reclaimed = try await store.claimDelivery(deliveryId: delivery.id, node: "N9", claimUntil: t0.addingTimeInterval(120), now: t0.addingTimeInterval(61))
        XCTAssertTrue(reclaimed)
        // A starting node resets only its own claims.
        try await store.resetInFlightDeliveries(node: "N1")
        let notMine = try await store.claimDelivery(deliveryId: delivery.id, node: "N1", claimUntil: t0.addingTimeInterval(120), now: t0.addingTimeInterval(62))
        XCTAssertFalse(notMine)
        try await store.resetInFlightDeliveries(node: "N9")
        let mineAgain = try await store.claimDelivery(deliveryId: delivery.id, node: "N1", claimUntil: t0.addingTimeInterval(120), now: t0.addingTimeInterval(62))
        XCTAssertTrue(mineAgain)
    }
}

/// The lifecycle as an integrator reads it (docs/contract.md §2): `reconnecting` status with
/// `channel.disconnected` / `channel.reconnected` written with the lease, and true end times
/// — at the drop when the window closes elsewhere, at the last renewal for a lost node.
extension ChannelStoreConformanceTests {
    private func events(_ type: String, channel: String) async throws -> [[String: JSONValue]] {
        try await store.events(EventQuery(types: [type], limit: 1000)).items.compactMap { event -> [String: JSONValue]? in
            guard event.channelId == p + channel, case .object(let o) = event.payload, case .object(let d)? = o["data"] else { return nil }
            return d
        }
    }

    func testReconnectingIsAStatusWithItsEventsAndTheEndIsWhenThePublisherLeft() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        _ = try await store.createChannel(id: p + "rc", streamKey: p + "rk", fields: fields("rc", user: "u"), now: t0)
        let s1 = SessionRecord(id: p + "rs1", channelId: p + "rc", nodeId: "A", startedAt: t0, remoteAddr: "10.0.0.1:1", encoder: "ffmpeg")
        guard case .started = try await store.acquireSession(s1, event: .make(type: "channel.live", channelId: p + "rc", userId: p + "u", at: t0, data: .object([:])),
                                                             now: t0, takeOver: false, rule: CrossNodeDecision.rule) else { return XCTFail("starts") }
        // The publisher drops at t0+5: reconnecting, channel.disconnected with the window.
        let marked = try await store.markLease(channelId: p + "rc", sessionId: s1.id, nodeId: "A", state: .reconnecting, windowEndsAt: t0.addingTimeInterval(15),
                                               endReason: "connection_closed", leftAt: t0.addingTimeInterval(5), now: t0.addingTimeInterval(5), announce: true)
        XCTAssertTrue(marked)
        var channel = try await store.channel(id: p + "rc")
        XCTAssertEqual(channel?.status, .reconnecting)
        let reconnectingList = try await store.listChannels(ChannelQuery(status: .reconnecting, limit: 100)).items.map(\.id)
        XCTAssertTrue(reconnectingList.contains(p + "rc"), "filterable by status")
        let liveList = try await store.listChannels(ChannelQuery(status: .live, limit: 100)).items.map(\.id)
        XCTAssertFalse(liveList.contains(p + "rc"), "not listed as live while its publisher is away")
        let usage = try await store.usage(userId: p + "u")
        XCTAssertEqual(usage.liveChannels, 1, "a reconnecting channel still holds its owner's live slot")
        var disconnected = try await events("channel.disconnected", channel: "rc")
        XCTAssertEqual(disconnected.count, 1)
        XCTAssertEqual(disconnected.first?["reason"], .string("connection_closed"))
        XCTAssertEqual(disconnected.first?["leftAt"], .string(Timestamp.format(t0.addingTimeInterval(5))))
        XCTAssertEqual(disconnected.first?["windowEndsAt"], .string(Timestamp.format(t0.addingTimeInterval(15))))
        if case .object(let c)? = disconnected.first?["channel"] { XCTAssertEqual(c["status"], .string("reconnecting")) } else { XCTFail("carries its channel") }
        // Marking it again (a renewal of the same state) sends nothing more.
        _ = try await store.markLease(channelId: p + "rc", sessionId: s1.id, nodeId: "A", state: .reconnecting, windowEndsAt: t0.addingTimeInterval(15),
                                      endReason: "connection_closed", leftAt: t0.addingTimeInterval(5), now: t0.addingTimeInterval(6), announce: true)
        disconnected = try await events("channel.disconnected", channel: "rc")
        XCTAssertEqual(disconnected.count, 1)
        // Back through another node inside the window: live again, channel.reconnected, same session.
        let s2 = SessionRecord(id: p + "rs2", channelId: p + "rc", nodeId: "B", startedAt: t0.addingTimeInterval(8), remoteAddr: "10.0.0.2:2", encoder: "obs")
        guard case .continued(let continued, "A", false) = try await store.acquireSession(
            s2, event: .make(type: "channel.live", channelId: p + "rc", userId: p + "u", at: t0, data: .object([:])), now: t0.addingTimeInterval(8), takeOver: false, rule: CrossNodeDecision.rule)
        else { return XCTFail("continues") }
        XCTAssertEqual(continued.id, s1.id)
        channel = try await store.channel(id: p + "rc")
        XCTAssertEqual(channel?.status, .live)
        let reconnected = try await events("channel.reconnected", channel: "rc")
        XCTAssertEqual(reconnected.count, 1)
        XCTAssertEqual(reconnected.first?["nodeId"], .string("B"))
        XCTAssertEqual(reconnected.first?["remoteAddr"], .string("10.0.0.2:2"))
        // B's publisher drops at t0+20 and nobody comes back: the session ends at t0+20, not at the window's end.
        _ = try await store.markLease(channelId: p + "rc", sessionId: s1.id, nodeId: "B", state: .reconnecting, windowEndsAt: t0.addingTimeInterval(30),
                                      endReason: "media_timeout", leftAt: t0.addingTimeInterval(20), now: t0.addingTimeInterval(21), announce: true)
        // (A publish after the window closed, while B's lease is still renewed, ends it with the window's reason.)
        let s3 = SessionRecord(id: p + "rs3", channelId: p + "rc", nodeId: "A", startedAt: t0.addingTimeInterval(30.5), remoteAddr: "10.0.0.1:3", encoder: "ffmpeg")
        guard case .started = try await store.acquireSession(s3, event: .make(type: "channel.live", channelId: p + "rc", userId: p + "u", at: t0, data: .object([:])),
                                                             now: t0.addingTimeInterval(30.5), takeOver: false, rule: CrossNodeDecision.rule) else { return XCTFail("a new session after the window") }
        let ended = try await store.session(id: s1.id)
        XCTAssertEqual(ended?.endedAt, t0.addingTimeInterval(20))
        XCTAssertEqual(ended?.endReason, "media_timeout")
        // A lost node: its live session ends at its last renewal (t0+42), not when swept (t0+60).
        _ = try await store.renewLeases(nodeId: "A", carrying: [p + "rc": s3.id], now: t0.addingTimeInterval(42), stats: [:])
        let lost = try await store.claimExpiredLeases(now: t0.addingTimeInterval(60), limit: 10)
        XCTAssertEqual(lost.map(\.session.id), [s3.id])
        XCTAssertEqual(lost.first?.session.endedAt, t0.addingTimeInterval(42))
        channel = try await store.channel(id: p + "rc")
        XCTAssertEqual(channel?.status, .offline)
    }
}

extension ChannelStoreConformanceTests {
    /// `reset-key` remembers the key it retired for a day (docs/contract.md §2, `key_rotated`).
    func testAResetKeyIsRememberedForADay() async throws {
        let t0 = Timestamp.parse(Timestamp.format(Date()))
        _ = try await store.createChannel(id: p + "rk", streamKey: p + "old", fields: fields("rk", user: "u"), now: t0)
        _ = try await store.resetStreamKey(id: p + "rk", newKey: p + "new", now: t0)
        let found = try await store.channelRetiring(streamKey: p + "old", now: t0.addingTimeInterval(3600))
        XCTAssertEqual(found?.id, p + "rk")
        XCTAssertEqual(found?.streamKey, p + "new", "the channel as it is now")
        let current = try await store.channelRetiring(streamKey: p + "new", now: t0)
        XCTAssertNil(current, "the current key is no retired key")
        let stale = try await store.channelRetiring(streamKey: p + "old", now: t0.addingTimeInterval(24 * 3600 + 1))
        XCTAssertNil(stale, "forgotten after a day")
        // Reset again: both earlier keys point at the channel.
        _ = try await store.resetStreamKey(id: p + "rk", newKey: p + "newer", now: t0.addingTimeInterval(10))
        let first = try await store.channelRetiring(streamKey: p + "old", now: t0.addingTimeInterval(20))
        let second = try await store.channelRetiring(streamKey: p + "new", now: t0.addingTimeInterval(20))
        XCTAssertEqual(first?.id, p + "rk")
        XCTAssertEqual(second?.id, p + "rk")
    }
}
