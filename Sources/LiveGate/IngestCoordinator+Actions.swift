import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import RTMPCore
import RTMPServer

/// Performing the lifecycle machine's actions: store writes, answers to publishers, kicks,
/// outputs. The outcome of each asynchronous write goes back into the machine.
extension IngestCoordinator {
    /// Runs one input through the channel's machine and performs what it asks.
    func feed(_ channelId: String, _ input: (inout ChannelLifecycle) -> [ChannelLifecycle.Action]) async {
        guard var tracked = channels[channelId] else { return }
        let actions = input(&tracked.machine)
        channels[channelId] = tracked
        for action in actions { await perform(action, channelId: channelId) }
        await syncLease(channelId)
        // Nothing left to remember (no session, no cooldown, no publisher): forget the channel.
        if let t = channels[channelId], t.machine.isIdle, t.publishers.isEmpty, !connections.values.contains(where: { $0.channelId == channelId }) {
            channels[channelId] = nil
        }
    }

    func perform(_ action: ChannelLifecycle.Action, channelId: String) async {
        guard let tracked = channels[channelId] else { return }
        let channel = tracked.machine.channel
        switch action {
        case .reject(let connection, let rejection):
            let remote = connections.removeValue(forKey: connection)?.remote ?? "unknown"
            abandoned.remove(connection)
            await recordRejection(rejection, channel: channel, remote: remote)
            resolve(connection, .reject(rejection.status))
        case .writeSession(let session):
            await writeSession(session, channelId: channelId)
        case .accept(let connection):
            if abandoned.remove(connection) != nil {
                // Gone while it was being decided: accepted and lost at once (the window applies).
                connections[connection] = nil
                resolve(connection, .accept)
                await feed(channelId) { $0.publisherEnded(connection, reason: .connectionClosed, now: clock.now()) }
            } else {
                resolve(connection, .accept)
            }
        case .kick(let connection, let status, let reason):
            if let ingest = tracked.publishers[connection] {
                logger.info(reason == nil ? "publisher replaced" : "publisher kicked",
                            metadata: ["channel": "\(channelId)", "reason": "\(reason?.rawValue ?? "replaced")"])
                // A replaced connection's own end says so (`endReason: replaced` in the session's connections).
                ingest.kick(status, reason: reason == nil ? .replaced : .kicked)
            } else if waiting[connection] != nil || deciding.contains(connection) {
                // Not answered yet: the answer it gets is the refusal.
                resolve(connection, .reject(status))
            } else if connections[connection] != nil {
                // Answered `Publish.Start` but not started yet: kicked the moment it starts.
                pendingKicks[connection] = (status, reason == nil ? .replaced : .kicked)
            }
        case .startOutputs(let connection, let sessionId), .continueOutputs(let connection, let sessionId):
            await startOutputs(channelId: channelId, sessionId: sessionId, connectionID: connection, part: tracked.outputsPart)
        case .releaseSession(let sessionId):
            // The recording made here becomes the session's part; HLS here stops.
            media?.endSession(sessionId: sessionId)
            for (connection, index) in tracked.connectionIndex where tracked.publishers[connection] != nil {
                releasedConnections[connection] = (sessionId, tracked.connectionLog[index])
            }
            channels[channelId]?.connectionIndex = [:]
            channels[channelId]?.record = nil
            channels[channelId]?.leaseSince = nil
            channels[channelId]?.leaseState = nil
            channels[channelId]?.outputsPart = nil
            logger.info("session let go: it goes on, or was ended, on another node", metadata: ["channel": "\(channelId)", "session": "\(sessionId)"])
        case .recordLimitExceeded(_, let violation):
            await recordLimitExceeded(violation, channelId: channelId)
        case .endSession(let sessionId, let reason):
            // The outputs finish first (the recording becomes a video), whatever the store does.
            media?.endSession(sessionId: sessionId)
            await endSession(channelId: channelId, reason: reason)
        }
    }

    /// The session, the channel's live status and `channel.live`, in one transaction, before
    /// the publisher is answered. (Answering first and writing from the command loop cut accept
    /// p50 by ~40% but queued the write behind other sessions' work: channel.live webhooks went
    /// from p99 62 ms to 1.1 s — BENCHMARKS.md.)
    func writeSession(_ session: ChannelLifecycle.Session, channelId: String) async {
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
                                                     now: session.startedAt, takeOver: channel.duplicatePolicy == .replace,
                                                     rule: CrossNodeDecision.rule)
        } catch {
            logger.error("session not recorded; publish refused", metadata: ["channel": "\(channelId)", "error": "\(StoreFactory.describe(error))"])
            await feed(channelId) { $0.sessionWriteFailed(now: clock.now()) }
            return
        }
        switch outcome {
        case .started:
            break
        case .busy(let node):
            logger.info("publish refused: the channel is live on another node", metadata: ["channel": "\(channelId)", "node": "\(node)"])
            await feed(channelId) { $0.sessionBusyElsewhere(now: clock.now()) }
            return
        case .continued(let continued, let fromNode, let replaced):
            // Its figures and connections so far come with it: this node's writes add to them.
            channels[channelId]?.record = continued
            channels[channelId]?.endedTotals = SessionTotals(bytes: UInt64(max(0, continued.bytesIn)), videoFrames: Int(continued.videoFrames),
                                                             audioFrames: Int(continued.audioFrames))
            channels[channelId]?.connectionLog = continued.connections
            channels[channelId]?.connectionIndex = [:]
            channels[channelId]?.leaseSince = acquiredAt
            channels[channelId]?.leaseState = .live
            channels[channelId]?.outputsPart = continued.connections.count + 1
            logger.info(replaced ? "publisher replaces the one on another node; the session continues here" : "publisher came back through this node; the session continues here",
                        metadata: ["channel": "\(channelId)", "session": "\(continued.id)", "from.node": "\(fromNode)"])
            let adopted = ChannelLifecycle.Session(id: continued.id, startedAt: continued.startedAt, remoteAddress: continued.remoteAddr, encoder: continued.encoder)
            await feed(channelId) { $0.sessionAdopted(adopted, now: clock.now()) }
            return
        }
        channels[channelId]?.record = record
        channels[channelId]?.endedTotals = SessionTotals()
        channels[channelId]?.connectionLog = []
        channels[channelId]?.connectionIndex = [:]
        channels[channelId]?.leaseSince = acquiredAt
        channels[channelId]?.leaseState = .live
        channels[channelId]?.outputsPart = nil
        dispatcher?.notify()
        sessionsStarted += 1
        logger.info("channel live", metadata: ["channel": "\(channelId)", "session": "\(session.id)", "remote": "\(session.remoteAddress)"])
        await feed(channelId) { $0.sessionWritten(now: clock.now()) }
    }

    /// A store write that must not be lost: done now, or — if the store fails, or earlier writes
    /// are still waiting — queued and retried in order by `tick`.
    func write(_ what: String, _ operation: @escaping @Sendable () async throws -> Void) async {
        if deferredWrites.isEmpty {
            do {
                try await operation()
                dispatcher?.notify()
                return
            } catch {
                logger.error("store write failed; retrying", metadata: ["write": "\(what)", "error": "\(StoreFactory.describe(error))"])
            }
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
            dispatcher?.notify()
            logger.info("store write recorded after a failure", metadata: ["write": "\(next.what)"])
        }
        return true
    }

    /// The end, with `channel.offline`; a failed write is retried by `tick` until the store is back.
    func endSession(channelId: String, reason: OfflineReason) async {
        guard let tracked = channels[channelId], let record = tracked.record else {
            await feed(channelId) { $0.sessionEnded(now: clock.now()) }
            return
        }
        do {
            // Events written before this end go out before it.
            guard await flushDeferredWrites() else { throw DeferredWritesPending() }
            let current = try? await store.channel(id: channelId)
            // The session ended when its last publisher left (the machine knows when), and a
            // retried end keeps that time.
            try await end(sessionRecord: record, channel: current ?? tracked.machine.channel, reason: reason,
                          at: tracked.machine.endTime ?? tracked.endFirstTriedAt, cooldown: tracked.machine.pendingCooldown)
        } catch {
            logger.error("session end not recorded; retrying", metadata: ["channel": "\(channelId)", "session": "\(record.id)", "error": "\(StoreFactory.describe(error))"])
            channels[channelId]?.endRetryAt = clock.now().addingTimeInterval(1)
            if channels[channelId]?.endFirstTriedAt == nil { channels[channelId]?.endFirstTriedAt = clock.now() }
            return
        }
        channels[channelId]?.record = nil
        channels[channelId]?.endRetryAt = nil
        channels[channelId]?.endFirstTriedAt = nil
        channels[channelId]?.leaseSince = nil
        channels[channelId]?.leaseState = nil
        channels[channelId]?.outputsPart = nil
        await feed(channelId) { $0.sessionEnded(now: clock.now()) }
    }

    /// At shutdown: ends the store has not taken yet are retried for `seconds`; those it still
    /// refuses are kept on disk for the next start (`PendingEnds`), with their reason and time.
    func settlePendingEnds(within seconds: TimeInterval) async {
        let deadline = Date().addingTimeInterval(seconds)
        func unsettled() -> [(String, Tracked)] { channels.filter { $0.value.endRetryAt != nil && $0.value.record != nil } }
        // Cancelled (not a graceful stop): every write would fail at once and the sleep would not
        // wait, so nothing is retried — what is left is kept on disk below.
        while !unsettled().isEmpty || !deferredWrites.isEmpty, Date() < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            await flushDeferredWrites()
            for (id, tracked) in unsettled() {
                guard case .endSession(_, let reason)? = tracked.machine.endSessionAction() else { continue }
                await endSession(channelId: id, reason: reason)
            }
        }
        if !deferredWrites.isEmpty {
            logger.error("store writes lost at shutdown (the store did not come back in time)",
                         metadata: ["writes": "\(deferredWrites.map(\.what).joined(separator: ","))"])
        }
        let left: [PendingEnds.Entry] = unsettled().compactMap { _, tracked in
            guard let record = tracked.record, case .endSession(_, let reason)? = tracked.machine.endSessionAction() else { return nil }
            return PendingEnds.Entry(sessionId: record.id, reason: reason.rawValue, endedAt: tracked.machine.endTime ?? tracked.endFirstTriedAt ?? clock.now())
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
        await write("channel.publish_rejected") { [store] in _ = try await store.appendEvent(event, now: now) }
    }

    /// `channel.limit_exceeded` with the limit, its configured value, the measured one and the
    /// session as it is now (its figures so far, not as it was at its start).
    func recordLimitExceeded(_ violation: ChannelLifecycle.LimitViolation, channelId: String) async {
        guard let tracked = channels[channelId], var session = tracked.record else { return }
        let running = tracked.machine.connection.flatMap { tracked.publishers[$0] }
        let live = running?.liveStats
        session.bytesIn = Int64(tracked.endedTotals.bytes + (live?.mediaBytes ?? 0))
        session.videoFrames = Int64(tracked.endedTotals.videoFrames + (live?.videoFrames ?? 0))
        session.audioFrames = Int64(tracked.endedTotals.audioFrames + (live?.audioFrames ?? 0))
        session.videoCodec = running?.stats.video?.codec.rawValue ?? session.videoCodec
        session.audioCodec = running?.stats.audio?.codec.rawValue ?? session.audioCodec
        let now = clock.now()
        logger.warning("user limit exceeded; disconnecting", metadata: ["channel": "\(channelId)", "limit": "\(violation.limit.rawValue)",
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
            guard let tracked = channels[id] else { continue }
            if let retry = tracked.endRetryAt, retry <= now, case .endSession(_, let reason)? = tracked.machine.endSessionAction() {
                channels[id]?.endRetryAt = nil
                await endSession(channelId: id, reason: reason)
                continue
            }
            await feed(id) { $0.tick(now: now, limits: tracked.limits) }
            await checkBitrate(id, now: now)
            await reportMediaIfReady(id, now: now)
        }
    }
}

/// An end waits for earlier writes of the outbox that are still failing (their order is kept).
struct DeferredWritesPending: Error, CustomStringConvertible {
    var description: String { "earlier store writes are still waiting" }
}
