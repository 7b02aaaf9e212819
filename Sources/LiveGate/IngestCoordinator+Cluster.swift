import LiveGateModel
import ChannelStore
import Foundation
import Logging

/// Several nodes on one store (issue #14, docs/contract.md §7): the leases this node holds are renewed with
/// its heartbeat and carry its stats snapshots; leases of lost nodes are swept and their
/// sessions ended with `node_lost`; messages from other nodes (`ClusterMessage`, PostgreSQL
/// `NOTIFY`) reach the sessions here. On SQLite (one node) the same code runs and finds nobody else.
extension IngestCoordinator {
    /// More than one node can share the store (PostgreSQL): stats snapshots are worth writing.
    var clustered: Bool { store.backendName == SQLBackend.postgres.rawValue }

    /// Keeps the lease's state in step with the machine: `reconnecting` (with the window's end
    /// and reason) while the publisher is gone, so another node can continue the session; `live`
    /// when it is back. The channel's status and `channel.disconnected` / `channel.reconnected`
    /// go in the same write, so a write the store refused is tried again (every feed and tick
    /// calls this) rather than lost; one write at a time, in the machine's order.
    func syncLease(_ channelId: String) async {
        // Read before the mutation below, not through a copy held across it: a copy would make
        // the channel's out-of-line bookkeeping shared, and the mutation copy it (`OutOfLine`).
        // Every feed and tick of every channel comes here, and almost always there is nothing to
        // write: that is asked first, before the session's record is copied out (the record's
        // copy was 2 % of the gateway's CPU at 1,500 publishers — BENCHMARKS.md, "eleventh session").
        guard let phase = channels[channelId]?.machine.phase, let want = channels[channelId]?.book.leaseWriteNeeded(for: phase),
              let record = channels[channelId]?.book.record else { return }
        let window = channels[channelId]?.machine.reconnectWindow
        var still = true, ok = false
        do {
            still = try await store.markLease(channelId: channelId, sessionId: record.id, nodeId: nodeId, state: want,
                                              windowEndsAt: window?.endsAt, endReason: window?.reason.rawValue, leftAt: window?.leftAt,
                                              now: clock.now(), announce: true)
            ok = true
            dispatcher?.notify()
        } catch {
            // The renewal keeps the lease; another node just cannot continue the session until
            // this is written. Said once per outage, retried by the next feed or tick.
            if channels[channelId]?.book.leaseWritten(want, sessionId: record.id, ok: false) ?? false {
                logger.warning("lease state not written; retrying", metadata: ["channel": "\(channelId)", "state": "\(want.rawValue)",
                                                                                "error": "\(StoreFactory.describe(error))"])
            }
            return
        }
        if channels[channelId]?.book.leaseWritten(want, sessionId: record.id, ok: ok) ?? false {
            logger.notice("lease state written again", metadata: ["channel": "\(channelId)"])
        }
        if !still { await leaseLost(channelId, sessionId: record.id) }
        // The machine may have moved on while this was written (a reconnect at once): follow it.
        await syncLease(channelId)
    }

    /// At the stop, before sessions are handed over: a channel whose publisher has left but
    /// whose `reconnecting` lease state is not written — the store refused the write a moment
    /// ago, and the tick that would retry it has stopped — is written now, retried until
    /// `deadline`. A session is handed over only once another node can read that it waits for
    /// its publisher; one still not written by then ends (docs/contract.md §6, SIGTERM).
    func settleLeaseStates(until deadline: ContinuousClock.Instant) async {
        func unwritten() -> [String] {
            channels.filter { $0.value.machine.phase == .reconnecting && $0.value.book.record != nil && $0.value.book.leaseState != .reconnecting }
                .map(\.key).sorted()
        }
        var missing = unwritten()
        // Real time: this bounds how long the stop waits for the store, it decides nothing.
        while !missing.isEmpty, !Task.isCancelled {
            for id in missing { await syncLease(id) }
            missing = unwritten()
            guard !missing.isEmpty, ContinuousClock.now < deadline else { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        if !missing.isEmpty {
            logger.warning("lease state not written before the stop; these sessions end instead of being handed over",
                           metadata: ["channels": "\(missing.joined(separator: ","))"])
        }
    }

    /// Renews the leases, re-reads carried channels and sweeps lost nodes' leases when
    /// `LeaseKeeping` says they are due. `run()` calls it every second; a test driving a manual
    /// `IngestClock` calls it itself.
    public func keepLeases() async {
        let now = clock.now()
        for duty in leaseKeeping.due(now: now) {
            switch duty {
            case .renew:
                do {
                    try await renewLeases(now: now)
                    leaseRenewals["ok", default: 0] += 1
                    if leaseKeeping.renewed(at: now, ok: true) { logger.notice("leases renewed again") }
                } catch {
                    leaseRenewals["failed", default: 0] += 1
                    if leaseKeeping.renewed(at: now, ok: false) {
                        logger.warning("leases not renewed", metadata: ["error": "\(StoreFactory.describe(error))"])
                    }
                }
            case .resync:
                if clustered { await resyncCarriedChannels() }
            case .sweep:
                do {
                    try await sweepLostNodes()
                } catch {
                    if !leaseKeeping.failing { logger.warning("lost nodes' leases not swept", metadata: ["error": "\(StoreFactory.describe(error))"]) }
                }
            }
        }
    }

    func renewLeases(now started: Date) async throws {
        // One node on SQLite holding no session has nothing to renew: no write every 2 s.
        guard clustered || channels.values.contains(where: { $0.book.record != nil }) else { return }
        var snapshots: [String: String] = [:]
        if clustered {
            for id in channels.keys {
                guard let stats = await channelStats(id) else { continue }
                snapshots[id] = stats.json.jsonText
            }
        }
        // Only the sessions this node carries are renewed (a lease it holds for nothing it
        // carries expires, and the sweep takes it up as a lost node's: docs/contract.md §7).
        var carrying: [String: String] = [:]
        for (id, tracked) in channels { if let record = tracked.book.record { carrying[id] = record.id } }
        let renewal = try await store.renewLeases(nodeId: nodeId, carrying: carrying, now: started, stats: snapshots)
        // A lease this node carried when the renewal began and no longer holds: another node
        // continued the session (its NOTIFY was missed) or ended it (this node was taken for
        // lost). Only what the renewal was asked about: a session recorded while it ran (its
        // lease got before the renewal began, its book filled during the store's round trip)
        // was not in `carrying`, so not renewed — it is held, and the next round renews it.
        // (Judged by the book alone, such a publisher was let go a moment after going live:
        // 66 publishers over five benchmark runs of 1,500.)
        for (id, tracked) in channels {
            guard let record = tracked.book.record, carrying[id] == record.id, let since = tracked.book.leaseSince, since < started,
                  renewal.held[id] != record.id, tracked.machine.phase == .live || tracked.machine.phase == .reconnecting else { continue }
            await leaseLost(id, sessionId: record.id)
        }
        // Said once per session: a publish being recorded right now may hold a lease its book
        // does not show yet (`starting`), or recorded while the renewal ran, and is not one of
        // them. Only those still held are remembered (the set stays as small as the store's list).
        uncarriedLeasesSeen.formIntersection(renewal.notCarried.values)
        for (id, session) in renewal.notCarried where channels[id]?.machine.phase != .starting && channels[id]?.book.record?.id != session {
            guard uncarriedLeasesSeen.insert(session).inserted else { continue }
            logger.warning("the store holds a lease of this node for a session it does not carry; left to expire", metadata: [
                "channel": "\(id)", "session": "\(session)"])
        }
    }

    /// The fallback for a message lost with a dropped `LISTEN` connection (issue #14 item 5):
    /// every `LeaseKeeping.Configuration.resyncInterval` (10 s) the channels carried here are
    /// read again — deleted, disabled or with a new key, their publisher goes as if the message
    /// had come — and their owners' limits are refreshed.

    func resyncCarriedChannels() async {
        var limitsByUser: [String: UserLimits] = [:]
        for (id, tracked) in channels where tracked.book.record != nil && (tracked.machine.phase == .live || tracked.machine.phase == .reconnecting) {
            let known = tracked.machine.channel
            let stored: Channel?
            do { stored = try await store.channel(id: id) } catch { return }
            guard let stored else {
                await channelChanged(id, change: .deleted)
                continue
            }
            if !stored.enabled {
                await channelChanged(id, change: .disabled)
            } else if stored.streamKey != known.streamKey {
                await channelChanged(id, change: .keyReset)
            } else {
                if stored.duplicatePolicy != known.duplicatePolicy || stored.reconnectWindowSec != known.reconnectWindowSec { await channelEdited(stored) }
                if limitsByUser[stored.userId] == nil { limitsByUser[stored.userId] = try? await store.userLimits(userId: stored.userId) }
                if let limits = limitsByUser[stored.userId], channels[id] != nil { channels[id]?.limits = limits }
            }
        }
    }

    func sweepLostNodes() async throws {
        let lost = try await store.claimExpiredLeases(now: clock.now(), limit: 100)
        guard !lost.isEmpty else { return }
        dispatcher?.notify()
        for entry in lost {
            if let until = entry.waitingUntil {
                logger.warning("a lost node's session waits for its publisher", metadata: [
                    "channel": "\(entry.session.channelId)", "session": "\(entry.session.id)", "node": "\(entry.lostNode)",
                    "window.ends": "\(Timestamp.format(until))"])
                // This node's own lease (it could not renew for too long): its publisher goes now.
                if entry.lostNode == nodeId { await leaseLost(entry.session.channelId, sessionId: entry.session.id) }
                continue
            }
            // A playlist this node kept for it (a restart inside its window) ends with it.
            media?.releaseKeptHLS(channelId: entry.session.channelId)
            let reason = entry.session.endReason ?? OfflineReason.nodeLost.rawValue
            sessionsEndedByReason[reason, default: 0] += 1
            logger.warning("ended the session of a lost node", metadata: [
                "channel": "\(entry.session.channelId)", "session": "\(entry.session.id)", "node": "\(entry.lostNode)", "reason": "\(reason)"])
            // This node's own lease expired (it could not renew for too long): its publisher goes.
            if entry.lostNode == nodeId { await leaseLost(entry.session.channelId, sessionId: entry.session.id) }
        }
    }

    func leaseLost(_ channelId: String, sessionId: String) async {
        guard channels[channelId]?.book.record?.id == sessionId else { return }
        logger.notice("this node no longer holds the session's lease", metadata: ["channel": "\(channelId)", "session": "\(sessionId)"])
        await feed(channelId) { $0.sessionMoved(sessionId: sessionId, now: clock.now()) }
    }

    /// A message from another node.
    public func handle(_ message: ClusterMessage) async {
        if case .leaseMoved(_, _, let from, _) = message, from != nodeId { return }
        // One line per message acted on: how an operator (and the cluster tests) tell a change
        // that arrived at once from one the periodic resync caught up with.
        logger.info("message from another node", metadata: ["cluster.message": "\(message.kind)", "origin": "\(message.origin)"])
        switch message {
        case .leaseMoved(let channelId, let sessionId, _, _):
            await leaseLost(channelId, sessionId: sessionId)
        case .channelChanged(let channelId, let change, _):
            await channelChanged(channelId, change: change)
        case .channelEdited(let channelId, _):
            guard channels[channelId] != nil, let channel = try? await store.channel(id: channelId) else { return }
            await channelEdited(channel)
        case .userLimitsChanged(let userId, _):
            await userLimitsChanged(userId)
        case .forwardsChanged(let channelId, _):
            await forwardsChanged(channelId)
        case .reconnectRequested(let channelId, _):
            _ = await requestReconnect(channelId, why: "Asked through the API; please reconnect.")
        }
    }
}
