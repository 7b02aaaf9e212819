import ChannelStore
import ControlAPI
import Foundation
import Logging
import MediaPipeline
import RTMPCore
import RTMPServer
import ServiceLifecycle
import Webhooks

/// Joins the RTMP listener to the channel store. Every lifecycle rule — SPEC §2's decision
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
        /// A failed end write waiting to be retried.
        var endRetryAt: Date?
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
    /// Connections that closed while their publish was being decided.
    var abandoned: Set<ConnectionID> = []
    let commands: AsyncStream<Command>
    let commandSink: AsyncStream<Command>.Continuation

    /// HLS, recordings and forwards (nil: media is not remuxed, e.g. in listener-only tests).
    public let media: MediaHub?

    // Counters for /metrics.
    var rejectionsByReason: [String: Int] = [:]
    var sessionsEndedByReason: [String: Int] = [:]
    var sessionsStarted = 0
    var connectionCounter: (@Sendable () -> Int)?
    var interrupted: [InterruptedRecording] = []
    var limitsCache: [String: (limits: UserLimits, until: Date)] = [:]
    /// Finished recordings the store could not take yet (retried by `tick`; their `.part`
    /// stays on disk meanwhile, so a restart would also find them).
    var unrecordedVideos: [(plan: OutputPlan, file: RecordingFile, retryAt: Date)] = []

    public init(store: any ChannelStore, nodeId: String, dispatcher: WebhookDispatcher?, media: MediaHub.Settings? = nil,
                lifecycle: ChannelLifecycle.Configuration = .init(), logger: Logger) {
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
        do {
            guard let found = try await store.channel(streamKey: request.streamKey), constantTimeEquals(found.streamKey, request.streamKey) else {
                await recordRejection(ChannelLifecycle.unknownKey, channel: nil, remote: remoteAddress)
                return .reject(ChannelLifecycle.unknownKey.status)
            }
            channel = found
            limits = try await userLimits(found.userId)
        } catch {
            logger.error("publish decision failed; refusing", metadata: ["error": "\(error)", "key": "\(request.maskedKey)"])
            return .reject(.error(.publishRejected, "temporarily unavailable"))
        }
        // From here to the machine's answer nothing awaits: the reservation below is seen by the next publish.
        var tracked = channels[channel.id] ?? Tracked(machine: ChannelLifecycle(channel: channel, configuration: lifecycle), limits: limits)
        tracked.limits = limits
        channels[channel.id] = tracked
        connections[connectionID] = (channel.id, remoteAddress)
        let liveForUser = channels.values.filter { $0.machine.channel.userId == channel.userId && $0.machine.channel.id != channel.id && $0.machine.holdsLiveSlot }.count
        let attempt = ChannelLifecycle.PublishAttempt(
            connection: connectionID, channel: channel, limits: limits, liveForUser: liveForUser,
            newSessionId: "ses_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20),
            remoteAddress: remoteAddress, encoder: request.connect.flashVer ?? "", now: Date())
        await feed(channel.id) { $0.publishRequested(attempt) }
        if let decision = decided.removeValue(forKey: connectionID) { return decision }
        return await withCheckedContinuation { waiting[connectionID] = $0 }
    }

    /// Hands a decision to the `authorize` call of `connection` (now, or when it asks).
    func resolve(_ connection: ConnectionID, _ decision: PublishDecision) {
        if let continuation = waiting.removeValue(forKey: connection) {
            continuation.resume(returning: decision)
        } else {
            decided[connection] = decision
        }
    }

    // MARK: IngestEventSink (event loops: enqueue only)

    public nonisolated func publishStarted(_ session: IngestSession) {
        // Registered synchronously, so no frame is missed while the coordinator picks the outputs.
        media?.sessionStarted(connectionID: session.connectionID)
        commandSink.yield(.started(session))
    }

    public nonisolated func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {
        // The outputs are the channel session's: they wait for its next connection or its end.
        media?.connectionEnded(connectionID: session.connectionID)
        commandSink.yield(.ended(session, reason, stats))
    }

    public nonisolated func publishAbandoned(connectionID: UInt64) {
        commandSink.yield(.abandoned(connectionID))
    }

    /// Per frame on the event loop: handed to the media hub (O(1)); sequence headers (rare) also
    /// come here, for codec and size limits.
    public nonisolated func media(_ frame: MediaFrame, session: IngestSession) {
        media?.media(frame, connectionID: session.connectionID)
        guard frame.kind == .video, frame.packetType == .sequenceHeader, let params = VideoCodecParameters.parse(frame) else { return }
        commandSink.yield(.video(session, params))
    }

    public nonisolated func metadata(_ metadata: AMFObject, session: IngestSession) {
        media?.metadata(metadata, connectionID: session.connectionID)
        commandSink.yield(.metadata(session, width: metadata["width"]?.numberValue, height: metadata["height"]?.numberValue,
                                    fps: metadata["framerate"]?.numberValue ?? metadata["fps"]?.numberValue))
    }

    func apply(_ command: Command) async {
        let now = Date()
        switch command {
        case .started(let ingest):
            guard let id = connections[ingest.connectionID]?.channelId, var tracked = channels[id] else { return }
            tracked.publishers[ingest.connectionID] = ingest
            tracked.bitrateSamples = []
            tracked.connectionIndex[ingest.connectionID] = tracked.connectionLog.count
            tracked.connectionLog.append(SessionConnection(remoteAddr: ingest.remoteAddress, encoder: ingest.request.connect.flashVer ?? "", startedAt: now))
            channels[id] = tracked
            await feed(id) { $0.publisherStarted(ingest.connectionID, now: now) }
        case .ended(let ingest, let reason, let stats):
            guard let id = connections.removeValue(forKey: ingest.connectionID)?.channelId, var tracked = channels[id] else { return }
            tracked.publishers[ingest.connectionID] = nil
            // Only a connection of the current session counts towards its figures.
            if let index = tracked.connectionIndex.removeValue(forKey: ingest.connectionID) {
                tracked.endedTotals.bytes += stats.bytesReceived
                tracked.endedTotals.videoFrames += stats.videoFrames
                tracked.endedTotals.audioFrames += stats.audioFrames
                tracked.connectionLog[index].endedAt = now
                tracked.connectionLog[index].endReason = reason.rawValue
                tracked.connectionLog[index].bytesIn = Int64(stats.bytesReceived)
            }
            channels[id] = tracked
            if let record = tracked.record {
                do {
                    try await store.updateSessionStats(id: record.id, bytesIn: Int64(tracked.endedTotals.bytes), videoFrames: Int64(tracked.endedTotals.videoFrames),
                                                       audioFrames: Int64(tracked.endedTotals.audioFrames), videoCodec: stats.video?.codec.rawValue,
                                                       audioCodec: stats.audio?.codec.rawValue, connections: tracked.connectionLog)
                } catch {
                    logger.warning("session figures not recorded", metadata: ["channel": "\(id)", "error": "\(error)"])
                }
            }
            await feed(id) { $0.publisherEnded(ingest.connectionID, reason: reason, now: now) }
        case .abandoned(let connection):
            guard let id = connections[connection]?.channelId else { return }
            if channels[id]?.machine.connection == connection {
                connections[connection] = nil
                await feed(id) { $0.publisherEnded(connection, reason: .connectionClosed, now: now) }
            } else if waiting[connection] != nil || channels[id]?.machine.phase == .starting || channels[id]?.machine.phase == .ending {
                abandoned.insert(connection) // accepted later: ended at once then
            } else {
                connections[connection] = nil
            }
        case .video(let ingest, let params):
            await checkCodecLimits(ingest, params, now: now)
        case .metadata(let ingest, let width, let height, let fps):
            await checkMetadataLimits(ingest, width: width, height: height, fps: fps, now: now)
        }
    }

    // MARK: LiveSessionControl (the API changed a channel)

    public func channelChanged(_ channelId: String, change: ChannelChange) async {
        await feed(channelId) { $0.channelChanged(change, now: Date()) }
    }

    // MARK: Service

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [weak self] in await self?.recoverInterruptedRecordings() }
            group.addTask { [weak self] in
                // Reconnect windows, session length, bit rate and end retries: a few times a second.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                    await self?.tick()
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
        for id in Array(channels.keys) { await feed(id) { $0.shutdown(now: Date()) } }
        media?.endAllSessions()
        // Outputs flush: MP4s get their index and their video records before the store closes.
        if let media, !(await media.drain(timeout: .seconds(8))) {
            logger.error("outputs did not finish before the shutdown deadline")
        }
    }
}
