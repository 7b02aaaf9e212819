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

    /// What the coordinator keeps beside each channel's machine.
    struct Tracked {
        var machine: ChannelLifecycle
        var limits: UserLimits
        /// The session row as written (stats are added to it when connections end).
        var record: SessionRecord?
        /// Publishers that started, by connection (a replaced one until it is gone).
        var publishers: [ConnectionID: IngestSession] = [:]
        /// Counters of the session's connections that have ended.
        var endedTotals = SessionTotals()
        /// The session's connections (`connections` of the session record), by connection id.
        var connectionLog: [SessionConnection] = []
        var connectionIndex: [ConnectionID: Int] = [:]
        /// (time, media bytes) samples of the current publisher for the sustained-bitrate check.
        var bitrateSamples: [(Date, UInt64)] = []
        /// A failed end write waiting to be retried, and when the end was first tried (its time).
        var endRetryAt: Date?
        var endFirstTriedAt: Date?
        /// When this node got the session's lease (a renewal that began earlier cannot have seen it).
        var leaseSince: Date?
        /// The lease state last written (`reconnecting` while the window runs), whether a write
        /// of it is under way, and whether the last one failed (an outage: logged once).
        var leaseState: SessionLease.State?
        var leaseSyncing = false
        var leaseSyncFailing = false
        /// Continued from another node: the outputs here are this part of the session.
        var outputsPart: Int?
        /// Publishers whose tracks `channel.media` has reported, and the frame rate each declared.
        var mediaReported: Set<ConnectionID> = []
        var declaredFps: [ConnectionID: Double] = [:]
    }

    struct SessionTotals {
        var bytes: UInt64 = 0
        var videoFrames = 0
        var audioFrames = 0
    }

    enum Command: Sendable {
        case started(IngestSession)
        case ended(IngestSession, IngestEndReason, IngestSessionStats)
        case abandoned(ConnectionID)
        case video(IngestSession, VideoCodecParameters)
        case metadata(IngestSession, width: Double?, height: Double?, fps: Double?)
        case applicationRejected(app: String, remote: String)
    }

    let store: any ChannelStore
    let nodeId: String
    let logger: Logger
    let dispatcher: WebhookDispatcher?
    let lifecycle: ChannelLifecycle.Configuration
    var channels: [String: Tracked] = [:]
    /// Which channel each deciding or publishing connection belongs to, and where it came from.
    var connections: [ConnectionID: (channelId: String, remote: String)] = [:]
    /// Decisions made before their `authorize` call waited for them, and the waiting calls.
    var decided: [ConnectionID: PublishDecision] = [:]
    var waiting: [ConnectionID: CheckedContinuation<PublishDecision, Never>] = [:]
    /// `authorize` calls in progress (a decision for any other connection has nobody to hear it).
    var deciding: Set<ConnectionID> = []
    /// Publishers kicked after their accept but before they started (a replace in between):
    /// kicked as soon as they start.
    var pendingKicks: [ConnectionID: (status: NetStatus, reason: IngestEndReason)] = [:]
    /// Publishers of sessions that moved to another node, still connected until their kick lands:
    /// their figures are added to that session when they end.
    var releasedConnections: [ConnectionID: (sessionId: String, entry: SessionConnection)] = [:]
    /// Connections that closed while their publish was being decided.
    var abandoned: Set<ConnectionID> = []
    let commands: AsyncStream<Command>
    let commandSink: AsyncStream<Command>.Continuation

    /// HLS, recordings and forwards (nil: media is not remuxed, e.g. in listener-only tests).
    public let media: MediaHub?

    // Counters for /metrics.
    var rejectionsByReason: [String: Int] = [:]
    /// Refusals any peer can cause are recorded once per address and minute.
    var rejectionEvents = RejectionEventLimiter()
    var sessionsEndedByReason: [String: Int] = [:]
    var sessionsStarted = 0
    var connectionCounter: (@Sendable () -> Int)?
    var interrupted: [InterruptedRecording] = []
    var limitsCache: [String: (limits: UserLimits, until: Date)] = [:]
    /// Finished recordings the store could not take yet (retried by `tick`; their `.part`
    /// stays on disk meanwhile, so a restart would also find them).
    var unrecordedVideos: [(plan: OutputPlan, file: RecordingFile, retryAt: Date)] = []
    /// Store writes that failed (an outage), retried in order by `tick` before anything newer.
    var deferredWrites: [(what: String, write: @Sendable () async throws -> Void)] = []

    /// Where session ends the store did not take by shutdown are kept (nil: not kept).
    let pendingEnds: PendingEnds?
    /// The time its part of a shutdown may take.
    let shutdownBudget: ShutdownBudget
    /// What "now" is for every decision and record (a manual clock in tests).
    let clock: IngestClock

    public init(store: any ChannelStore, nodeId: String, dispatcher: WebhookDispatcher?, media: MediaHub.Settings? = nil,
                lifecycle: ChannelLifecycle.Configuration = .init(), pendingEndsPath: String? = nil, shutdownBudget: ShutdownBudget = .init(),
                clock: IngestClock = .system, logger: Logger) {
        self.shutdownBudget = shutdownBudget
        self.clock = clock
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
        do {
            guard let found = try await store.channel(streamKey: request.streamKey), constantTimeEquals(found.streamKey, request.streamKey) else {
                // A key `reset-key` retired: the broadcaster's encoder still has the old one.
                if let retired = try await store.channelRetiring(streamKey: request.streamKey, now: clock.now()) {
                    logger.notice("publish with a stream key that reset-key retired", metadata: ["channel": "\(retired.id)", "key": "\(request.maskedKey)",
                                                                                               "remote": "\(remoteAddress)"])
                    var rejection = ChannelLifecycle.keyRotated
                    rejection.recordEvent = rejectionEvents.allow(.keyRotated, address: remoteAddress, now: clock.now())
                    await recordRejection(rejection, channel: retired, remote: remoteAddress)
                    return .reject(rejection.status)
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
            logger.error("publish decision failed; refusing", metadata: ["error": "\(StoreFactory.describe(error))", "key": "\(request.maskedKey)"])
            return .reject(.error(.publishRejected, "temporarily unavailable"))
        }
        // From here to the machine's answer nothing awaits: the reservation below is seen by the next publish.
        var tracked = channels[channel.id] ?? Tracked(machine: ChannelLifecycle(channel: channel, configuration: lifecycle), limits: limits)
        tracked.limits = limits
        channels[channel.id] = tracked
        connections[connectionID] = (channel.id, remoteAddress)
        let liveForUser = channels.values.filter { $0.machine.channel.userId == channel.userId && $0.machine.channel.id != channel.id && $0.machine.holdsLiveSlot }.count + elsewhere
        let attempt = ChannelLifecycle.PublishAttempt(
            connection: connectionID, channel: channel, limits: limits, liveForUser: liveForUser,
            newSessionId: "ses_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20),
            remoteAddress: remoteAddress, encoder: request.connect.flashVer ?? "", now: clock.now())
        deciding.insert(connectionID)
        defer { deciding.remove(connectionID) }
        await feed(channel.id) { $0.publishRequested(attempt) }
        if let decision = decided.removeValue(forKey: connectionID) { return decision }
        return await withCheckedContinuation { waiting[connectionID] = $0 }
    }

    /// Hands a decision to the `authorize` call of `connection` (now, or when it asks).
    func resolve(_ connection: ConnectionID, _ decision: PublishDecision) {
        if let continuation = waiting.removeValue(forKey: connection) {
            continuation.resume(returning: decision)
        } else if deciding.contains(connection) {
            decided[connection] = decision
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
                group.addTask { [weak self] in await self?.runLeaseKeeping() }
                group.addTask { [weak self] in
                    // Reconnect windows, session length, bit rate and end retries: a few times a second.
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
        // Publishers were kicked with `shutdown` by the listener first; what is still open ends now.
        for id in Array(channels.keys) { await feed(id) { $0.shutdown(now: clock.now()) } }
        media?.endAllSessions()
        await settlePendingEnds(within: shutdownBudget.settleWrites)
        // Outputs flush: MP4s get their index and their video records before the store closes.
        if let media, !(await media.drain(timeout: .milliseconds(Int64(shutdownBudget.drainOutputs * 1000)))) {
            logger.error("outputs did not finish before the shutdown deadline")
        }
        logger.info("ingest coordinator stopped")
    }
}
