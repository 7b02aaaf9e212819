import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import Logging
import RTMPCore
import RTMPServer

/// Performing the lifecycle machine's actions: store writes, answers to publishers, kicks,
/// outputs. The outcome of each asynchronous write goes back into the machine.
extension IngestCoordinator {
    /// Runs one input through the channel's machine and performs what it asks.
    func feed(_ channelId: String, _ input: (inout ChannelLifecycle) -> [ChannelLifecycle.Action]) async {
        guard channels[channelId] != nil else { return }
        // In place: a copy taken out and written back would share the channel's box while the
        // machine changes, and copy it every time (`OutOfLine`).
        let actions = input(&channels[channelId]!.machine)
        for action in actions { await perform(action, channelId: channelId) }
        await syncLease(channelId)
        // Nothing left to remember (no session, no cooldown, no publisher): forget the channel.
        if let t = channels[channelId], t.machine.isIdle, !connections.hasConnections(channelId: channelId) {
            channels[channelId] = nil
        }
    }

    func perform(_ action: ChannelLifecycle.Action, channelId: String) async {
        guard let tracked = channels[channelId] else { return }
        let channel = tracked.machine.channel
        switch action {
        case .reject(let connection, var rejection):
            let remote = connections.remote(of: connection) ?? "unknown"
            // An outage refusal is recorded once per address and minute, as any peer can cause it.
            if rejection.reason == .unavailable { rejection.recordEvent = rejectionEvents.allow(.unavailable, address: remote, now: clock.now()) }
            await recordRejection(rejection, channel: channel, remote: remote)
            await resolve(connection, .reject(rejection.status), channelId: channelId)
        case .writeSession(let session):
            await writeSession(session, channelId: channelId)
        case .accept(let connection):
            await resolve(connection, .accept, channelId: channelId)
        case .kick(let connection, let status, let reason):
            switch connections.kick(connection, status: status, reason: reason) {
            case .kickNow(let ingest, let status, let end):
                logger.info(end == .replaced ? "publisher replaced" : "publisher kicked",
                            metadata: ["channel": "\(channelId)", "reason": "\(reason?.rawValue ?? "replaced")", "rtmp.connection.id": "\(connection)"])
                // A replaced connection's own end says so (`endReason: replaced` in the session's connections).
                ingest.kick(status, reason: end)
            case .refuse(let status):
                await resolve(connection, .reject(status), channelId: channelId)
            case .kickWhenStarted, .nothing:
                break
            }
        case .handOver(let from, let to):
            beginHandover(from: from, to: to, channelId: channelId)
        case .continueOutputs(let connection, let sessionId) where holdsOutputs(connection, sessionId: sessionId):
            break // a moved publisher: its outputs continue at its first keyframe (firstKeyframe)
        case .startOutputs(let connection, let sessionId), .continueOutputs(let connection, let sessionId):
            await startOutputs(channelId: channelId, sessionId: sessionId, connectionID: connection, part: tracked.book.outputsPart,
                               continuesSince: tracked.book.outputsPart == nil ? nil : tracked.book.record?.startedAt)
        case .releaseSession(let sessionId):
            // The recording made here becomes the session's part; HLS here stops.
            media?.endSession(sessionId: sessionId)
            let running = channels[channelId]?.book.closed() ?? [:]
            connections.sessionReleased(channelId: channelId, sessionId: sessionId, log: running)
            logger.info("session let go: it goes on, or was ended, on another node", metadata: ["channel": "\(channelId)", "session": "\(sessionId)"])
        case .recordLimitExceeded(_, let violation):
            await recordLimitExceeded(violation, channelId: channelId)
        case .endSession(let sessionId, let reason):
            // The outputs finish first (the recording becomes a video), whatever the store does.
            media?.endSession(sessionId: sessionId)
            // A playlist kept across a restart for a publisher who never came back ends too.
            media?.releaseKeptHLS(channelId: channelId)
            await endSession(channelId: channelId, reason: reason)
        }
    }

    /// The session, the channel's live status and `channel.live`, in one transaction, before
    /// the publisher is answered. (Answering first and writing from the command loop cut accept
    /// p50 by ~40% but queued the write behind other sessions' work: channel.live webhooks went
    /// from p99 62 ms to 1.1 s — BENCHMARKS.md.)
    func writeSession(_ session: ChannelLifecycle.Session, channelId: String, held: Bool = false) async {
        guard let channel = channels[channelId]?.machine.channel else { return }
        let record = SessionRecord(id: session.id, channelId: channelId, nodeId: nodeId, startedAt: session.startedAt,
                                   remoteAddr: session.remoteAddress, encoder: session.encoder)
        var liveChannel = channel
        liveChannel.status = .live
        liveChannel.lastLiveAt = session.startedAt
        let acquiredAt = clock.now()
        let outcome: SessionStart
        do {
            // The channel's lease decides across nodes (docs/contract.md §7): new, continued from another node, or busy there.
            outcome = try await store.acquireSession(record, event: .make(type: EventType.channelLive.rawValue, channelId: channelId, userId: channel.userId,
                                                                          at: session.startedAt,
                                                                          data: .object(["channel": liveChannel.eventJSON, "session": record.json])),
                                                     now: session.startedAt, takeOver: channel.duplicatePolicy == .replace || session.takesOver,
                                                     rule: CrossNodeDecision.rule)
        } catch {
            logger.error("session not recorded; publish refused", metadata: ["channel": "\(channelId)", "error": "\(StoreFactory.describe(error))"])
            await feed(channelId) { $0.sessionWriteFailed(now: clock.now()) }
            return
        }
        switch outcome {
        case .started:
            break
        case .busy(let node, let retryAt, let late):
            // Its node stopped renewing, or does not answer at all (dead, probably): held until
            // its lease expires, then asked again — it then continues the session instead of
            // being refused. A holder renewing on time and answering keeps its publisher.
            if let retryAt, !held, clock.runsTimers, late ? true : !(await nodeAlive(node)) {
                let wait = min(max(0, retryAt.timeIntervalSince(clock.now())) + 0.25, leaseKeeping.configuration.timeToLive + 1)
                logger.notice("publish held: the node carrying the session stopped renewing its lease", metadata: [
                    "channel": "\(channelId)", "node": "\(node)", "wait.sec": "\(String(format: "%.1f", wait))"])
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                // Still this publish waiting (not closed, not cancelled meanwhile)?
                guard let machine = channels[channelId]?.machine, machine.startingConnection != nil, machine.session?.id == session.id else { return }
                await writeSession(session, channelId: channelId, held: true)
                return
            }
            logger.info("publish refused: the channel is live on another node", metadata: ["channel": "\(channelId)", "node": "\(node)"])
            await feed(channelId) { $0.sessionBusyElsewhere(now: clock.now()) }
            return
        case .continued(let continued, let fromNode, let replaced):
            // Its figures and connections so far come with it: this node's writes add to them.
            channels[channelId]?.book.continued(continued, leaseAt: acquiredAt)
            logger.info(replaced ? "publisher replaces the one on another node; the session continues here" : "publisher came back through this node; the session continues here",
                        metadata: ["channel": "\(channelId)", "session": "\(continued.id)", "from.node": "\(fromNode)"])
            let adopted = ChannelLifecycle.Session(id: continued.id, startedAt: continued.startedAt, remoteAddress: continued.remoteAddr, encoder: continued.encoder)
            await feed(channelId) { $0.sessionAdopted(adopted, now: clock.now()) }
            return
        }
        channels[channelId]?.book.began(record, leaseAt: acquiredAt)
        dispatcher?.notify()
        sessionsStarted += 1
        var liveMetadata: Logger.Metadata = ["channel": "\(channelId)", "session": "\(session.id)", "remote": "\(session.remoteAddress)"]
        if let connection = channels[channelId]?.machine.startingConnection { liveMetadata["rtmp.connection.id"] = "\(connection)" }
        logger.info("channel live", metadata: liveMetadata)
        await feed(channelId) { $0.sessionWritten(now: clock.now()) }
    }

    /// A store write that must not be lost: done now, or — if the store fails, or earlier writes
    /// are still waiting — queued and retried in order by `tick`.
    /// `refusal`: a refusal event (any peer can cause them): bounded while queued.
    func write(_ what: String, refusal: Bool = false, _ operation: @escaping @Sendable () async throws -> Void) async {
        if deferredWrites.isEmpty {
            do {
                try await operation()
                dispatcher?.notify()
                return
            } catch {
                logger.error("store write failed; retrying", metadata: ["write": "\(what)", "error": "\(StoreFactory.describe(error))"])
            }
        }
        if refusal {
            guard deferredRefusals < Self.deferredRefusalsLimit else {
                if droppedWrites == 0 { logger.error("too many refusals queued during the outage; counting the rest only", metadata: ["write": "\(what)"]) }
                droppedWrites += 1
                return
            }
            deferredRefusals += 1
        }
        deferredWrites.append((what, operation))
    }

    /// Retries queued writes in order; stops at the first that still fails. True when none is left.
    @discardableResult
    func flushDeferredWrites() async -> Bool {
        while let next = deferredWrites.first {
            do {
                try await next.write()
            } catch {
                return false
            }
            deferredWrites.removeFirst()
            if next.what == "channel.publish_rejected" { deferredRefusals = max(0, deferredRefusals - 1) }
            dispatcher?.notify()
            logger.info("store write recorded after a failure", metadata: ["write": "\(next.what)"])
        }
        return true
    }

    /// The end, with `channel.offline`; a write the store refuses is asked for again by the
    /// machine's `tick` (`sessionEndFailed`) until the store is back.
    func endSession(channelId: String, reason: OfflineReason) async {
        guard let tracked = channels[channelId], let record = tracked.book.record, let endedAt = tracked.machine.endTime else {
            await feed(channelId) { $0.sessionEnded(now: clock.now()) }
            return
        }
        do {
            // Events written before this end go out before it.
            guard await flushDeferredWrites() else { throw DeferredWritesPending() }
            let current = try? await store.channel(id: channelId)
            // The session ended when its last publisher left (the machine knows when).
            try await end(sessionRecord: record, channel: current ?? tracked.machine.channel, reason: reason,
                          at: endedAt, cooldown: tracked.machine.pendingCooldown)
        } catch {
            logger.error("session end not recorded; retrying", metadata: ["channel": "\(channelId)", "session": "\(record.id)", "error": "\(StoreFactory.describe(error))"])
            channels[channelId]?.machine.sessionEndFailed(now: clock.now())
            return
        }
        channels[channelId]?.book.closed()
        await feed(channelId) { $0.sessionEnded(now: clock.now()) }
    }

    /// At shutdown: ends the store has not taken yet are retried for `seconds`; those it still
    /// refuses are kept on disk for the next start (`PendingEnds`), with their reason and time.
    func settlePendingEnds(within seconds: TimeInterval) async {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
        func unsettled() -> [String] { channels.filter { $0.value.machine.unrecordedEnd != nil && $0.value.book.record != nil }.map(\.key) }
        // Cancelled (not a graceful stop): every write would fail at once and the sleep would not
        // wait, so nothing is retried — what is left is kept on disk below. (Real time: this
        // bounds how long the process waits, it decides nothing.)
        while !unsettled().isEmpty || !deferredWrites.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            await flushDeferredWrites()
            for id in unsettled() { await feed(id) { $0.retryEndNow() } }
        }
        if !deferredWrites.isEmpty {
            logger.error("store writes lost at shutdown (the store did not come back in time)",
                         metadata: ["writes": "\(deferredWrites.map(\.what).joined(separator: ","))"])
        }
        let left: [PendingEnds.Entry] = unsettled().compactMap { id in
            guard let end = channels[id]?.machine.unrecordedEnd else { return nil }
            return PendingEnds.Entry(sessionId: end.sessionId, reason: end.reason.rawValue, endedAt: end.endedAt)
        }
        guard !left.isEmpty else { return }
        do {
            try pendingEnds?.save(left)
            logger.error("session ends not recorded before shutdown; kept for the next start",
                         metadata: ["sessions": "\(left.map(\.sessionId).joined(separator: ","))"])
        } catch {
            logger.error("session ends not recorded and not kept", metadata: ["error": "\(error)"])
        }
    }

    func end(sessionRecord: SessionRecord, channel: Channel?, reason: OfflineReason, at endedAt: Date? = nil,
             cooldown: (until: Date, limit: UserLimit)? = nil) async throws {
        // The session's end (when its last publisher left) and the time it is recorded differ
        // for a window that closed or a restart: the event is stamped now, the session `endedAt`.
        let now = clock.now()
        let endedAt = min(endedAt ?? now, now)
        var session = try await store.session(id: sessionRecord.id) ?? sessionRecord
        session.endedAt = endedAt
        session.endReason = reason.rawValue
        if session.userId == nil { session.userId = channel?.userId }
        var after = channel
        if let cooldown {
            after?.cooldownUntil = cooldown.until
            after?.cooldownLimit = cooldown.limit
        }
        // Only while this node holds the lease: a session that moved on is the other node's to end.
        let ended = try await store.endSession(id: session.id, reason: reason.rawValue, endedAt: endedAt, now: now,
                                               event: .channelOffline(channel: after, session: session, at: now), byNode: nodeId, cooldown: cooldown)
        if ended != nil {
            sessionsEndedByReason[reason.rawValue, default: 0] += 1
            dispatcher?.notify()
            logger.info("channel offline", metadata: ["channel": "\(session.channelId)", "session": "\(session.id)", "reason": "\(reason.rawValue)"])
        }
    }

    func recordRejection(_ rejection: ChannelLifecycle.Rejection, channel: Channel?, remote: String, extra: [String: JSONValue] = [:]) async {
        rejectionsByReason[rejection.reason.rawValue, default: 0] += 1
        guard rejection.recordEvent else { return }
        var data: [String: JSONValue] = ["reason": .string(rejection.reason.rawValue), "status": .string(rejection.status.code.rawValue),
                                         "remoteAddr": .string(remote)]
        for (key, value) in extra { data[key] = value }
        if let channel { data["channel"] = channel.eventJSON }
        if let limit = rejection.limit { data["limit"] = .string(limit.rawValue) }
        let now = clock.now()
        let event = NewEvent.make(type: EventType.channelPublishRejected.rawValue, channelId: channel?.id, userId: channel?.userId,
                                  at: now, data: .object(data))
        await write("channel.publish_rejected", refusal: true) { [store] in _ = try await store.appendEvent(event, now: now) }
    }

    /// `channel.limit_exceeded` with the limit, its configured value, the measured one and the
    /// session as it is now (its figures so far, not as it was at its start).
    func recordLimitExceeded(_ violation: ChannelLifecycle.LimitViolation, channelId: String) async {
        guard let tracked = channels[channelId], var session = tracked.book.record else { return }
        let running = current(tracked)
        let live = running?.liveStats
        session.bytesIn = Int64(tracked.book.totals.bytes + (live?.mediaBytes ?? 0))
        session.videoFrames = Int64(tracked.book.totals.videoFrames + (live?.videoFrames ?? 0))
        session.audioFrames = Int64(tracked.book.totals.audioFrames + (live?.audioFrames ?? 0))
        session.videoCodec = running?.stats.video?.codec.rawValue ?? session.videoCodec
        session.audioCodec = running?.stats.audio?.codec.rawValue ?? session.audioCodec
        let now = clock.now()
        logger.warning("user limit exceeded; disconnecting", metadata: ["channel": "\(channelId)", "limit": "\(violation.limit.rawValue)",
                                                                        "rtmp.connection.id": "\(running.map { "\($0.connectionID)" } ?? "-")",
                                                                        "value": "\(violation.measured.jsonText)"])
        let event = NewEvent.make(type: EventType.channelLimitExceeded.rawValue, channelId: channelId, userId: tracked.machine.channel.userId,
                                  at: now, data: .object([
                                      "channel": (await eventChannel(channelId) ?? tracked.machine.channel).eventJSON, "session": session.json,
                                      "limit": .string(violation.limit.rawValue), "configured": violation.configured,
                                      "value": violation.measured,
                                  ]))
        await write("channel.limit_exceeded") { [store] in _ = try await store.appendEvent(event, now: now) }
    }

    /// Time for every machine; session length and sustained bit rate; end writes to retry.
    /// Called by `run()` a few times a second, or by a test driving a manual `IngestClock`.
    public func tick() async {
        let now = clock.now()
        await flushDeferredWrites()
        await retryUnrecordedVideos(now: now)
        for id in Array(channels.keys) {
            guard let due = tickWork(id, now: now) else { continue }
            // Reconnect windows, maxSessionSec, cooldowns, ends the store refused, and lease
            // states it refused (`syncLease`, after every feed).
            if due.feed { await feed(id) { $0.tick(now: now, limits: due.limits) } }
            if due.bitrate { await checkBitrate(id, now: now) }
            if due.mediaReport { await reportMediaIfReady(id, now: now) }
        }
    }

    /// What the tick has to do for one channel, found from one look at it. Most ticks of a live
    /// channel have nothing to do, and feeding every machine 5 times a second to find that out
    /// was 5 % of the gateway's CPU at 1,500 publishers (docs/architecture.md "The coordinator's
    /// tick").
    private func tickWork(_ id: String, now: Date) -> TickWork? {
        channels[id]?.tickWork(now: now) { self.connections.hasConnections(channelId: id) }
    }
}

/// An end waits for earlier writes of the outbox that are still failing (their order is kept).
struct DeferredWritesPending: Error, CustomStringConvertible {
    var description: String { "earlier store writes are still waiting" }
}
