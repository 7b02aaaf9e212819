import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import Logging
import MediaPipeline
import RTMPCore
import RTMPServer
import ServiceLifecycle
import Webhooks

/// Joins the RTMP listener to the channel store. Every lifecycle rule — docs/contract.md §2's decision
/// table, the reconnect window, replace, kicks, limits and their cooldown — lives in
/// `ChannelLifecycle`, one pure machine per channel; this actor feeds it what happens (publish
/// requests, publishers starting and ending, API changes, measured limits, time) and performs
/// the actions it returns against the store, the publishers and the media hub.
///
/// An actor: a decision that reads then changes "who is live" happens without interleaving. The
/// listener's sink callbacks arrive on event loops and must not block, so they only enqueue;
/// `run()` applies them in order.
public actor IngestCoordinator: IngestAuthorizer, IngestEventSink, LiveSessionControl, MetricsProvider, Service {
    typealias ConnectionID = ChannelLifecycle.ConnectionID

    /// What the coordinator keeps per channel: its machine, the owner's limits, and the
    /// session's bookkeeping (IngestCore's `SessionBook`).
    struct Tracked {
        private struct Fields {
            var machine: ChannelLifecycle
            var limits: UserLimits
            var book: SessionBook
        }
        /// Out of line: `channels` holds one per live channel (`OutOfLine`).
        private var fields: OutOfLine<Fields>

        init(machine: ChannelLifecycle, limits: UserLimits, book: SessionBook = SessionBook()) {
            fields = OutOfLine(Fields(machine: machine, limits: limits, book: book))
        }

        var machine: ChannelLifecycle {
            _read { yield fields.value.machine }
            _modify { yield &fields.value.machine }
        }
        var limits: UserLimits {
            _read { yield fields.value.limits }
            _modify { yield &fields.value.limits }
        }
        var book: SessionBook {
            _read { yield fields.value.book }
            _modify { yield &fields.value.book }
        }

        /// What the coordinator's tick has to do for the channel (docs/architecture.md "The
        /// coordinator's tick"), read in place. Mutating only for that: reached through the
        /// dictionary's and the box's modify accessors, the fields are read where they are — read
        /// through `book`'s `_read` from another module's methods, the whole `SessionBook` was
        /// copied per question (1 % of the gateway's CPU at 1,500 publishers). Nothing changes.
        /// `hasConnections` is asked only of an idle machine (whose channel is forgotten once no
        /// connection belongs to it): no other channel needs the answer.
        mutating func tickWork(now: Date, hasConnections: () -> Bool) -> TickWork {
            Self.tickWork(&fields.value, now: now, hasConnections: hasConnections)
        }

        private static func tickWork(_ f: inout Fields, now: Date, hasConnections: () -> Bool) -> TickWork {
            let feed = f.machine.tickDue(now: now, limits: f.limits) || f.book.leaseStateBehind(f.machine.phase) != nil
                || (f.machine.isIdle && !hasConnections())
            var mediaReport = false
            if let connection = f.machine.connection { mediaReport = f.book.mediaReportPending(connection) }
            return TickWork(feed: feed, bitrate: f.limits.maxBitrateKbps != nil, mediaReport: mediaReport, limits: f.limits)
        }
    }

    /// One channel's share of a tick: feed its machine, check its bit rate, send `channel.media`.
    struct TickWork {
        var feed: Bool
        var bitrate: Bool
        var mediaReport: Bool
        var limits: UserLimits
    }

    enum Command: Sendable {
        case started(IngestSession)
        case ended(IngestSession, IngestEndReason, IngestSessionStats)
        case abandoned(ConnectionID)
        case video(IngestSession, VideoCodecParameters)
        case metadata(IngestSession, width: Double?, height: Double?, fps: Double?)
        case applicationRejected(app: String, remote: String)
        /// A connection's first video keyframe (or, `timedOut`, the bound of a handover).
        case firstKeyframe(ConnectionID, timedOut: Bool)
        /// Resumed once every report enqueued before it has been applied (`processed()`).
        case barrier(@Sendable () -> Void)
    }

    let store: any IngestStore
    let nodeId: String
    let logger: Logger
    let dispatcher: WebhookDispatcher?
    let lifecycle: ChannelLifecycle.Configuration
    var channels: [String: Tracked] = [:]
    /// Every publishing connection's phase (IngestCore's `PublishConnections`).
    var connections = PublishConnections<IngestSession>()
    /// The `authorize` calls suspended until their channel's machine answers (a mechanism, not
    /// a phase: whether a connection is still being decided is `connections`' to say).
    var answerSlots: [ConnectionID: CheckedContinuation<PublishDecision, Never>] = [:]
    let commands: AsyncStream<Command>
    let commandSink: AsyncStream<Command>.Continuation

    /// HLS, recordings and forwards (nil: media is not remuxed, e.g. in listener-only tests).
    public let media: MediaHub?

    // Counters for /metrics.
    var rejectionsByReason: [String: Int] = [:]
    /// Refusals any peer can cause are recorded once per address and minute.
    var rejectionEvents = RejectionEventLimiter()
    var sessionsEndedByReason: [String: Int] = [:]
    /// Lease renewals by outcome (`ok`, `failed`), for `/metrics`.
    var leaseRenewals: [String: Int] = [:]
    var sessionsStarted = 0
    var connectionCounter: (@Sendable () -> Int)?
    var decisionTimes: PublishDecisionTimes?
    var interrupted: [InterruptedRecording] = []
    var limitsCache: [String: (limits: UserLimits, until: Date)] = [:]
    /// Finished recordings the store could not take yet (retried by `tick`; their `.part`
    /// stays on disk meanwhile, so a restart would also find them).
    var unrecordedVideos: [(plan: OutputPlan, file: RecordingFile, retryAt: Date)] = []
    /// Store writes that failed (an outage), retried in order by `tick` before anything newer.
    var deferredWrites: [(what: String, write: @Sendable () async throws -> Void)] = []
    /// Refusal events any peer can cause are queued only up to `deferredRefusalsLimit` during an
    /// outage; those beyond are counted (`livegate_store_writes_dropped_total`), not kept.
    static let deferredRefusalsLimit = 10_000
    var deferredRefusals = 0
    var droppedWrites = 0

    /// Where session ends the store did not take by shutdown are kept (nil: not kept).
    let pendingEnds: PendingEnds?
    /// The time its part of a shutdown may take.
    let shutdownBudget: ShutdownBudget
    /// What "now" is for every decision and record (a manual clock in tests).
    let clock: IngestClock
    /// When leases are renewed, carried channels re-read and lost nodes swept.
    var leaseKeeping: LeaseKeeping
    /// Whether another node answers at all (`PeerRelay.isAlive`); one node alone: always.
    var nodeAlive: @Sendable (String) async -> Bool = { _ in true }

    /// The node is stopping (SIGTERM, `POST /v1/system/drain`): new publishes are refused
    /// with `NetStream.Publish.Rejected` so their encoders go to another node; the sessions
    /// it carries are handed over when it stops.
    var draining = false
    /// Sessions whose lease the renewal found held here but not carried (logged once each).
    var uncarriedLeasesSeen: Set<String> = []
    /// Stream health of each channel's session (`IngestCoordinator+Health`), and the last hour
    /// of 10 s points of live and recently live channels.
    var health: [String: HealthEntry] = [:]
    var healthRules = HealthRules()
    var statsHistory = StatsHistory(maxChannels: 1000)
    /// Pictures of live channels (`ThumbnailService`); nil: none made on this node.
    var thumbnails: ThumbnailService?
    /// Publishers being moved on this node (`IngestCoordinator+Reconnect`), by new connection.
    var handovers: [ConnectionID: Handover] = [:]
    /// The key reconnect tokens are signed with (the cluster's); nil: publishers are never asked to move.
    var reconnectSecret: String?
    var reconnectTcUrl: String?

    public func startDraining() async {
        guard !draining else { return }
        draining = true
        logger.notice("draining: new publishes are refused; carried sessions are handed over at the stop",
                      metadata: ["publishers": "\(publisherCount)"])
        // Publishers that can move are asked to first (Enhanced RTMP ReconnectRequest).
        let asked = await askPublishersToMove()
        if asked > 0 { logger.notice("draining: publishers asked to reconnect elsewhere", metadata: ["asked": "\(asked)"]) }
    }

    /// Publishers connected and carrying a session here now.
    public var publisherCount: Int { channels.values.filter { $0.machine.connection != nil }.count }

    /// How to tell whether another node is alive (set once, before `run`).
    public func setNodeProbe(_ probe: @escaping @Sendable (String) async -> Bool) { nodeAlive = probe }

    public init(store: any IngestStore, nodeId: String, dispatcher: WebhookDispatcher?, media: MediaHub.Settings? = nil,
                lifecycle: ChannelLifecycle.Configuration = .init(), pendingEndsPath: String? = nil, shutdownBudget: ShutdownBudget = .init(),
                clock: IngestClock = .system, leaseTimeToLive: TimeInterval = SessionLease.timeToLive, logger: Logger) {
        self.shutdownBudget = shutdownBudget
        self.clock = clock
        self.leaseKeeping = LeaseKeeping(configuration: .init(renewInterval: SessionLease.renewInterval(timeToLive: leaseTimeToLive),
                                                              timeToLive: leaseTimeToLive,
                                                              resyncInterval: store.backendName == SQLBackend.postgres.rawValue ? 10 : nil),
                                         startedAt: clock.now())
        self.pendingEnds = pendingEndsPath.map(PendingEnds.init(path:))
        self.store = store
        self.nodeId = nodeId
        self.dispatcher = dispatcher
        self.logger = logger
        self.lifecycle = lifecycle
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
        let relay = MediaEventRelay()
        self.media = media.map { MediaHub(settings: $0, logger: Logger(label: "livegate.media"), handler: { await relay.deliver($0) }) }
        relay.target = self
    }

    // MARK: IngestAuthorizer

    public func authorize(_ request: PublishRequest, connectionID: UInt64, remoteAddress: String) async -> PublishDecision {
        let channel: Channel, limits: UserLimits
        var elsewhere = 0
        if draining {
            logger.info("publish refused: this node is draining", metadata: ["key": "\(request.maskedKey)", "rtmp.connection.id": "\(connectionID)",
                                                                              "remote": "\(remoteAddress)"])
            return .reject(ChannelLifecycle.draining.status)
        }
        do {
            guard let found = try await store.channel(streamKey: request.streamKey), constantTimeEquals(found.streamKey, request.streamKey) else {
                // A key `reset-key` retired: the broadcaster's encoder still has the old one.
                if let retired = try await store.channelRetiring(streamKey: request.streamKey, now: clock.now()) {
                    logger.notice("publish with a stream key that reset-key retired", metadata: ["channel": "\(retired.id)", "key": "\(request.maskedKey)",
                                                                                                 "rtmp.connection.id": "\(connectionID)",
                                                                                               "remote": "\(remoteAddress)"])
                    return await refuseOncePerMinute(ChannelLifecycle.keyRotated, channel: retired, remote: remoteAddress)
                }
                await recordRejection(ChannelLifecycle.unknownKey, channel: nil, remote: remoteAddress)
                return .reject(ChannelLifecycle.unknownKey.status)
            }
            channel = found
            limits = try await userLimits(found.userId)
            // Other nodes' sessions of the same user count against maxConcurrentLive too.
            if clustered, limits.maxConcurrentLive != nil {
                elsewhere = try await store.sessionsElsewhere(userId: found.userId, nodeId: nodeId, excluding: found.id)
            }
        } catch {
            logger.error("publish decision failed; refusing", metadata: ["error": "\(StoreFactory.describe(error))", "key": "\(request.maskedKey)",
                                                                         "rtmp.connection.id": "\(connectionID)",
                                                                         "remote": "\(remoteAddress)"])
            // Recorded like every refusal: queued until the store is back.
            return await refuseOncePerMinute(ChannelLifecycle.unavailable, channel: nil, remote: remoteAddress)
        }
        // From here to the machine's answer nothing awaits: the reservation below is seen by the next publish.
        var tracked = channels[channel.id] ?? Tracked(machine: ChannelLifecycle(channel: channel, configuration: lifecycle), limits: limits)
        tracked.limits = limits
        channels[channel.id] = tracked
        connections.deciding(connectionID, channelId: channel.id, remote: remoteAddress)
        let liveForUser = channels.values.filter { $0.machine.channel.userId == channel.userId && $0.machine.channel.id != channel.id && $0.machine.holdsLiveSlot }.count + elsewhere
        let attempt = ChannelLifecycle.PublishAttempt(
            connection: connectionID, channel: channel, limits: limits, liveForUser: liveForUser,
            newSessionId: "ses_" + Identifiers.hex(20),
            remoteAddress: remoteAddress, encoder: request.connect.flashVer ?? "", now: clock.now(),
            reconnectRequested: movedByReconnectRequest(request, channelId: channel.id))
        await feed(channel.id) { $0.publishRequested(attempt) }
        if let decision = connections.answerTaken(connectionID) { return decision }
        return await withCheckedContinuation { answerSlots[connectionID] = $0 }
    }

    /// A refusal any peer can cause: counted always, its event recorded once per address and minute.
    func refuseOncePerMinute(_ rejection: ChannelLifecycle.Rejection, channel: Channel?, remote: String) async -> PublishDecision {
        var rejection = rejection
        rejection.recordEvent = rejectionEvents.allow(rejection.reason, address: remote, now: clock.now())
        await recordRejection(rejection, channel: channel, remote: remote)
        return .reject(rejection.status)
    }

    /// Hands a decision to the `authorize` call of `connection` (now if it waits, else it
    /// takes it when it asks). An accept for a connection that closed meanwhile is also its end.
    func resolve(_ connection: ConnectionID, _ decision: PublishDecision, channelId: String) async {
        let outcome = connections.answered(connection, decision)
        if outcome != .nobody, let continuation = answerSlots.removeValue(forKey: connection) {
            continuation.resume(returning: connections.answerTaken(connection) ?? decision)
        }
        if outcome == .deliverThenEnded {
            await feed(channelId) { $0.publisherEnded(connection, reason: .connectionClosed, now: clock.now()) }
        }
    }

    // MARK: LiveSessionControl (the API changed a channel)

    /// A new reconnect window applies to the next drop, a new policy to the next duplicate publish.
    public func channelEdited(_ channel: Channel) async {
        channels[channel.id]?.machine.channelEdited(channel)
    }

    public func channelChanged(_ channelId: String, change: ChannelChange) async {
        await feed(channelId) { $0.channelChanged(change, now: clock.now()) }
    }

    // MARK: Service

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [weak self] in await self?.recoverInterruptedRecordings() }
            if clock.runsTimers {
                // The cadence only (the decisions read `clock.now()`): reconnect windows, session
                // length, bit rate and end retries a few times a second; leases every second.
                group.addTask { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        await self?.keepLeases()
                        await self?.healthTick()
                    }
                }
                group.addTask { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(200))
                        await self?.tick()
                    }
                }
            }
            await withGracefulShutdownHandler {
                for await command in commands { await apply(command) }
            } onGracefulShutdown: { [commandSink] in
                commandSink.finish()
            }
            group.cancelAll()
        }
        // Publishers were let go with `shutdown` by the listener first: their sessions are handed
        // over (`reconnecting`, the window open, written with the lease) — continued when their
        // publisher comes back to any node, or to this one once it has restarted. What could not
        // be handed over (the lease state not written: a store outage; a window of 0) ends now.
        // A write the store refused a moment ago (a timeout under load) is not an outage: the
        // lease states still missing are written first, within the budget for the stop's writes.
        let settleBy = ContinuousClock.now.advanced(by: .milliseconds(Int64(shutdownBudget.settleWrites * 1000)))
        await settleLeaseStates(until: settleBy)
        var handedOver: Set<String> = []
        for id in Array(channels.keys) {
            guard let tracked = channels[id] else { continue }
            if tracked.machine.phase == .reconnecting, tracked.book.leaseState == .reconnecting, let record = tracked.book.record {
                handedOver.insert(record.id)
                logger.notice("session handed over; it continues when its publisher comes back inside the window", metadata: [
                    "channel": "\(id)", "session": "\(record.id)",
                    "window.ends": "\(tracked.machine.reconnectWindow.map { Timestamp.format($0.endsAt) } ?? "-")"])
                continue
            }
            await feed(id) { $0.shutdown(now: clock.now()) }
        }
        media?.endAllSessions(handedOver: handedOver)
        let left = settleBy - ContinuousClock.now
        await settlePendingEnds(within: max(0, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18))
        // Outputs flush: MP4s get their index and their video records before the store closes.
        if let media, !(await media.drain(timeout: .milliseconds(Int64(shutdownBudget.drainOutputs * 1000)))) {
            logger.error("outputs did not finish before the shutdown deadline")
        }
        logger.info("ingest coordinator stopped")
    }
}
