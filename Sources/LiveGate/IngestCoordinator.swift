import ChannelStore
import ControlAPI
import Foundation
import Logging
import MediaPipeline
import NIOConcurrencyHelpers
import RTMPCore
import RTMPServer
import ServiceLifecycle
import Webhooks

/// Joins the RTMP listener to the channel store (SPEC §2 publish decisions, §5 lifecycle):
/// decides publishes against channel records, keeps channels live/offline with their sessions,
/// honours the reconnect window, and kicks publishers when the API changes their channel.
///
/// An actor: decisions that read then change "who is live" happen without interleaving. The
/// listener's sink callbacks arrive on event loops and must not block, so they only enqueue;
/// `run()` applies them in order.
public actor IngestCoordinator: IngestAuthorizer, IngestEventSink, LiveSessionControl, MetricsProvider, Service {
    struct LiveChannel {
        var channel: Channel
        var session: SessionRecord
        /// The connected publisher; nil while starting or inside the reconnect window.
        var ingest: IngestSession?
        var starting: Bool
        /// Inside the reconnect window: when the channel goes offline, and why.
        var offlineAt: Date?
        var offlineReason: String?
        /// Why we kicked the publisher (key_reset, disabled, deleted, replaced …).
        var kickReason: String?
        /// The owner's limits, read when the session started.
        var limits: UserLimits = UserLimits()
        /// (time, media bytes) samples for the sustained-bitrate check.
        var bitrateSamples: [(Date, UInt64)] = []
    }

    enum Command: Sendable {
        case started(IngestSession)
        case ended(IngestSession, IngestEndReason, IngestSessionStats)
        case video(IngestSession, VideoCodecParameters)
        case metadata(IngestSession, width: Double?, height: Double?, fps: Double?)
    }

    /// SPEC §4: `maxBitrateKbps` is judged over a sustained 10 s.
    static let bitrateWindow: TimeInterval = 10

    let store: any ChannelStore
    let nodeId: String
    let logger: Logger
    let dispatcher: WebhookDispatcher?
    private var live: [String: LiveChannel] = [:]
    /// Stream key → channel id of publishes accepted but not yet started.
    private var accepted: [String: String] = [:]
    private let commands: AsyncStream<Command>
    private let commandSink: AsyncStream<Command>.Continuation

    /// HLS, recordings and forwards (nil: media is not remuxed, e.g. in listener-only tests).
    public let media: MediaHub?

    public init(store: any ChannelStore, nodeId: String, dispatcher: WebhookDispatcher?, media: MediaHub.Settings? = nil, logger: Logger) {
        self.store = store
        self.nodeId = nodeId
        self.dispatcher = dispatcher
        self.logger = logger
        (commands, commandSink) = AsyncStream.makeStream(of: Command.self)
        let relay = MediaEventRelay()
        self.media = media.map { MediaHub(settings: $0, logger: Logger(label: "livegate.media"), onEvent: { await relay.deliver($0) }) }
        relay.target = self
    }

    // MARK: Start-up recovery

    /// Sessions this node left open were cut off by a crash (a clean stop closes them with
    /// `shutdown`): close them with `node_lost` and queue their `channel.offline`.
    /// Closes the sessions a previous run of this node left open (`node_lost`): under its id,
    /// and under `previousNodeIds` — the host name a node used before it had a stable id.
    public func recoverOpenSessions(previousNodeIds: [String] = []) async throws {
        var open: [SessionRecord] = []
        for id in [nodeId] + previousNodeIds { open += try await store.openSessions(nodeId: id) }
        for session in open {
            try await end(sessionRecord: session, channel: try await store.channel(id: session.channelId), reason: "node_lost")
            logger.warning("closed a session left open by a previous run", metadata: ["channel": "\(session.channelId)", "session": "\(session.id)",
                                                                                       "reason": "node_lost"])
        }
        // Listed now, before any publisher can start a new `.part`; finished in the background by `run()`.
        interrupted = media?.interruptedRecordings() ?? []
    }

    /// Recordings the previous run left as `.mp4.part` (see `recoverOpenSessions`).
    private var interrupted: [InterruptedRecording] = []

    /// Finishes each interrupted recording into its MP4 and records it with `video.ready`, like
    /// a recording that ended normally. One already on record (the crash came between the record
    /// and the removal of its `.part`) only loses its `.part`; one that fails stays for the next start.
    func recoverInterruptedRecordings() async {
        guard let media else { return }
        let pending = interrupted
        interrupted = []
        for recording in pending where !Task.isCancelled {
            let meta: Logger.Metadata = ["channel": "\(recording.channelId)", "session": "\(recording.sessionId)", "path": "\(recording.partPath)"]
            do {
                if try await store.video(path: recording.finalPath) != nil {
                    media.discard(recording)
                    continue
                }
                guard let file = try await media.finish(recording) else {
                    logger.warning("interrupted recording held no complete frame; removed", metadata: meta)
                    continue
                }
                let userId = try await store.channel(id: recording.channelId)?.userId ?? ""
                let video = try await recordVideo(channelId: recording.channelId, userId: userId, sessionId: recording.sessionId, file: file)
                media.discard(recording)
                logger.warning("recovered a recording the previous run left unfinished",
                               metadata: meta.merging(["video": "\(video.id)", "duration.sec": "\(video.durationSec)"]) { a, _ in a })
            } catch {
                logger.error("could not recover an interrupted recording; kept for the next start", metadata: meta.merging(["error": "\(error)"]) { a, _ in a })
            }
        }
    }

    // MARK: IngestAuthorizer

    public func authorize(_ request: PublishRequest, remoteAddress: String) async -> PublishDecision {
        do {
            return try await decide(request, remoteAddress: remoteAddress)
        } catch {
            logger.error("publish decision failed; refusing", metadata: ["error": "\(error)", "key": "\(request.maskedKey)"])
            return .reject(.error(.publishRejected, "temporarily unavailable"))
        }
    }

    private func decide(_ request: PublishRequest, remoteAddress: String) async throws -> PublishDecision {
        guard let channel = try await store.channel(streamKey: request.streamKey),
              constantTimeEquals(channel.streamKey, request.streamKey)
        else {
            try await rejected(nil, reason: "unknown_key", code: .publishUnauthorized, remote: remoteAddress)
            return .reject(.error(.publishUnauthorized, "unknown stream key"))
        }
        guard channel.enabled else {
            try await rejected(channel, reason: "disabled", code: .publishUnauthorized, remote: remoteAddress)
            return .reject(.error(.publishUnauthorized, "channel is disabled"))
        }
        if var entry = live[channel.id] {
            if entry.ingest != nil || entry.starting {
                guard channel.duplicatePolicy == .replace, let old = entry.ingest else {
                    try await rejected(channel, reason: "duplicate", code: .publishBadName, remote: remoteAddress)
                    return .reject(.error(.publishBadName, "this stream key is already publishing"))
                }
                // Replace: the old publisher is told and closed; the session carries on.
                entry.kickReason = "replaced"
                entry.ingest = nil
                old.kick(NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"), reason: .kicked)
                logger.info("publisher replaced", metadata: ["channel": "\(channel.id)"])
            }
            // Reconnect inside the window (or replacement): same session, no offline/live pair.
            entry.offlineAt = nil
            entry.offlineReason = nil
            entry.kickReason = nil
            entry.channel = channel
            live[channel.id] = entry
            accepted[request.streamKey] = channel.id
            return .accept
        }
        // Reserve before any await so a concurrent publish of the same key sees it.
        let session = SessionRecord(id: "ses_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20),
                                    channelId: channel.id, nodeId: nodeId, startedAt: Date(), remoteAddr: remoteAddress,
                                    encoder: request.connect.flashVer ?? "")
        live[channel.id] = LiveChannel(channel: channel, session: session, ingest: nil, starting: true)
        do {
            let limits = try await userLimits(channel.userId)
            live[channel.id]?.limits = limits
            if let max = limits.maxConcurrentLive, try await store.liveChannelCount(userId: channel.userId, excluding: channel.id) >= max {
                live[channel.id] = nil
                try await rejected(channel, reason: "limit_exceeded", code: .publishRejected, remote: remoteAddress, limit: "maxConcurrentLive")
                return .reject(.error(.publishRejected, "maxConcurrentLive"))
            }
        } catch {
            live[channel.id] = nil
            throw error
        }
        // The session, the channel's live status and `channel.live` are written in one
        // transaction before the publisher is answered. (Answering first and writing from the
        // command loop cut accept p50 by ~40% but queued the write behind other sessions'
        // work: channel.live webhooks went from p99 62 ms to 1.1 s — BENCHMARKS.md.)
        do {
            let now = Date()
            var liveChannel = channel
            liveChannel.status = .live
            liveChannel.lastLiveAt = now
            _ = try await store.startSession(session, event: .make(type: "channel.live", channelId: channel.id, userId: channel.userId, at: now,
                                                                  data: .object(["channel": liveChannel.eventJSON, "session": session.json])), now: now)
        } catch {
            live[channel.id] = nil
            throw error
        }
        dispatcher?.notify()
        sessionsStarted += 1
        accepted[request.streamKey] = channel.id
        logger.info("channel live", metadata: ["channel": "\(channel.id)", "session": "\(session.id)", "remote": "\(remoteAddress)"])
        return .accept
    }

    /// Users' limits, read once per `limitsTTL` per user; the API drops an entry when it
    /// replaces a user's limits, so a change applies to the next publish at once.
    private var limitsCache: [String: (limits: UserLimits, until: Date)] = [:]
    static let limitsTTL: TimeInterval = 30

    private func userLimits(_ userId: String) async throws -> UserLimits {
        if let cached = limitsCache[userId], cached.until > Date() { return cached.limits }
        let limits = try await store.userLimits(userId: userId)
        if limitsCache.count > 10_000 { limitsCache.removeAll() }
        limitsCache[userId] = (limits, Date().addingTimeInterval(Self.limitsTTL))
        return limits
    }

    public func userLimitsChanged(_ userId: String) async { limitsCache[userId] = nil }

    /// Forwards changed through the API: the live session (if any) starts and stops pushes now
    /// rather than at its next publish.
    public func forwardsChanged(_ channelId: String) async {
        guard let media, let connectionID = live[channelId]?.ingest?.connectionID else { return }
        guard let forwards = try? await store.forwards(channelId: channelId) else { return }
        // Still the same session after the await?
        guard live[channelId]?.ingest?.connectionID == connectionID else { return }
        media.updateForwards(connectionID: connectionID, forwards: forwards.filter(\.enabled).map { .init(id: $0.id, url: $0.url) })
    }

    private var rejectionsByReason: [String: Int] = [:]
    private var sessionsEndedByReason: [String: Int] = [:]
    private var sessionsStarted = 0

    private func rejected(_ channel: Channel?, reason: String, code: NetStatus.Code, remote: String, limit: String? = nil) async throws {
        rejectionsByReason[reason, default: 0] += 1
        var data: [String: JSONValue] = ["reason": .string(reason), "status": .string(code.rawValue), "remoteAddr": .string(remote)]
        if let channel { data["channel"] = channel.eventJSON }
        if let limit { data["limit"] = .string(limit) }
        _ = try await store.appendEvent(.make(type: "channel.publish_rejected", channelId: channel?.id, userId: channel?.userId, at: Date(),
                                              data: .object(data)), now: Date())
        dispatcher?.notify()
    }

    // MARK: IngestEventSink (event loops: enqueue only)

    public nonisolated func publishStarted(_ session: IngestSession) {
        // Registered synchronously, so no frame is missed while the coordinator picks the outputs.
        media?.sessionStarted(connectionID: session.connectionID)
        commandSink.yield(.started(session))
    }

    public nonisolated func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {
        media?.sessionEnded(connectionID: session.connectionID)
        commandSink.yield(.ended(session, reason, stats))
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

    // MARK: LiveSessionControl (the API changed a channel)

    public func channelChanged(_ channelId: String, reason: String) async {
        guard var entry = live[channelId] else { return }
        if let ingest = entry.ingest {
            entry.kickReason = reason
            live[channelId] = entry
            ingest.kick(.error(reason == "deleted" ? .publishBadName : .publishUnauthorized, "channel \(reason.replacingOccurrences(of: "_", with: " "))"),
                        reason: .kicked)
        } else if !entry.starting {
            try? await end(channelId, reason: reason)
        }
    }

    // MARK: Stats

    private var connectionCounter: (@Sendable () -> Int)?

    /// The listener's connection count, for `/v1/system/stats`.
    public func setConnectionCounter(_ counter: @escaping @Sendable () -> Int) { connectionCounter = counter }

    public func channelStats(_ channelId: String) async -> JSONValue? {
        guard let entry = live[channelId] else { return nil }
        guard let ingest = entry.ingest else {
            return .object(["status": .string("reconnecting"), "sessionId": .string(entry.session.id), "outputs": .array([])])
        }
        let s = ingest.stats
        func num(_ v: Double) -> JSONValue { .number((v * 10).rounded() / 10) }
        let video: JSONValue = s.video.map { v in
            .object(["codec": .string(v.codec.rawValue), "profile": v.profileName.map { .string($0) } ?? .null,
                     "level": v.level.map { .number(Double($0)) } ?? .null, "width": v.width.map { .number(Double($0)) } ?? .null,
                     "height": v.height.map { .number(Double($0)) } ?? .null])
        } ?? .null
        let audio: JSONValue = s.audio.map { a in
            .object(["codec": .string(a.codec.rawValue), "sampleRate": a.sampleRate.map { .number(Double($0)) } ?? .null,
                     "channels": a.channels.map { .number(Double($0)) } ?? .null])
        } ?? .null
        return .object([
            "status": .string("live"), "sessionId": .string(entry.session.id), "uptimeSec": num(ingest.uptimeSeconds),
            "bytesIn": .number(Double(s.mediaBytes)), "videoFrames": .number(Double(s.videoFrames)), "audioFrames": .number(Double(s.audioFrames)),
            "bitrateKbps": num(s.bitrateKbps), "bitrateKbps10s": num(s.bitrateKbps10s), "fps": num(s.fps),
            "keyframeIntervalSec": s.keyframeIntervalSec.map(num) ?? .null, "video": video, "audio": audio,
            "timestampRepairs": .number(Double(s.timestampRepairs)), "avDriftMs": s.avDriftMs.map { .number(Double($0)) } ?? .null,
            "outputs": .array(outputStatuses(ingest.connectionID)),
        ])
    }

    private func outputStatuses(_ connectionID: UInt64) -> [JSONValue] {
        (media?.outputs(connectionID: connectionID) ?? []).map { o in
            .object(["kind": .string(o.kind.rawValue), "id": o.id.map { .string($0) } ?? .null, "state": .string(o.state.rawValue),
                     "droppedPackets": .number(Double(o.droppedPackets)), "packetsWritten": .number(Double(o.packetsWritten)),
                     "attempts": .number(Double(o.attempts)), "lastError": o.lastError.map { .string($0) } ?? .null])
        }
    }

    /// The live channel's outputs (forward states for `/v1/channels/{id}/forwards`).
    public func outputs(_ channelId: String) async -> [JSONValue] {
        guard let connectionID = live[channelId]?.ingest?.connectionID else { return [] }
        return outputStatuses(connectionID)
    }

    public func ingestSummary() async -> JSONValue {
        let kbps = live.values.compactMap { $0.ingest?.stats.bitrateKbps10s }.reduce(0, +)
        return .object(["connections": .number(Double(connectionCounter?() ?? 0)), "liveChannels": .number(Double(live.count)),
                        "ingestBitrateKbps": .number((kbps * 10).rounded() / 10)])
    }

    /// SPEC §6 metrics. Labels are bounded: channel ids of live channels, reasons, outcomes —
    /// never a stream key.
    public func prometheusText() async -> String {
        var p = PrometheusText()
        p.family("livegate_rtmp_connections", .gauge, help: "Open RTMP connections.")
        p.sample("livegate_rtmp_connections", [], Double(connectionCounter?() ?? 0))
        p.family("livegate_live_channels", .gauge, help: "Channels live on this node (including reconnect windows).")
        p.sample("livegate_live_channels", [], Double(live.count))
        p.family("livegate_sessions_started_total", .counter, help: "Publish sessions started.")
        p.sample("livegate_sessions_started_total", [], Double(sessionsStarted))
        p.family("livegate_sessions_ended_total", .counter, help: "Publish sessions ended, by offline reason.")
        for (reason, n) in sessionsEndedByReason.sorted(by: { $0.key < $1.key }) { p.sample("livegate_sessions_ended_total", [("reason", reason)], Double(n)) }
        p.family("livegate_publish_rejections_total", .counter, help: "Refused publishes, by reason.")
        for (reason, n) in rejectionsByReason.sorted(by: { $0.key < $1.key }) { p.sample("livegate_publish_rejections_total", [("reason", reason)], Double(n)) }
        p.family("livegate_webhook_deliveries_total", .counter, help: "Webhook delivery attempts, by outcome.")
        for (outcome, n) in (dispatcher?.outcomeCounts ?? [:]).sorted(by: { $0.key < $1.key }) {
            p.sample("livegate_webhook_deliveries_total", [("outcome", outcome)], Double(n))
        }
        let perChannel: [(String, Channel, IngestStatsSnapshot)] = live.compactMap { id, e in e.ingest.map { (id, e.channel, $0.stats) } }
            .sorted { $0.0 < $1.0 }
        let families: [(String, PrometheusText.Kind, String, (IngestStatsSnapshot) -> Double?)] = [
            ("livegate_channel_ingest_bytes_total", .counter, "Media bytes received in the current session.", { Double($0.mediaBytes) }),
            ("livegate_channel_video_frames_total", .counter, "Video frames received in the current session.", { Double($0.videoFrames) }),
            ("livegate_channel_audio_frames_total", .counter, "Audio frames received in the current session.", { Double($0.audioFrames) }),
            ("livegate_channel_bitrate_kbps", .gauge, "Measured ingest bit rate over the last 10 s.", { $0.bitrateKbps10s }),
            ("livegate_channel_fps", .gauge, "Measured video frame rate.", { $0.fps }),
            ("livegate_channel_keyframe_interval_seconds", .gauge, "Measured keyframe interval.", { $0.keyframeIntervalSec }),
            ("livegate_channel_timestamp_repairs_total", .counter, "Non-monotonic timestamps repaired.", { Double($0.timestampRepairs) }),
        ]
        for (name, kind, help, value) in families {
            p.family(name, kind, help: help)
            for (id, _, stats) in perChannel { if let v = value(stats) { p.sample(name, [("channel", id)], v) } }
        }
        // Outputs: labels are the channel id and the output kind (forward ids, never URLs).
        let outputs: [(String, OutputStatus)] = live.compactMap { id, e in e.ingest.map { (id, $0.connectionID) } }
            .sorted { $0.0 < $1.0 }
            .flatMap { id, connection in (media?.outputs(connectionID: connection) ?? []).map { (id, $0) } }
        func labels(_ id: String, _ o: OutputStatus) -> [(String, String)] {
            [("channel", id), ("output", o.kind.rawValue)] + (o.id.map { [("forward", $0)] } ?? [])
        }
        p.family("livegate_output_dropped_packets_total", .counter, help: "Packets an output dropped (queue full, reconnecting, failed).")
        for (id, o) in outputs { p.sample("livegate_output_dropped_packets_total", labels(id, o), Double(o.droppedPackets)) }
        p.family("livegate_output_packets_written_total", .counter, help: "Packets an output wrote.")
        for (id, o) in outputs { p.sample("livegate_output_packets_written_total", labels(id, o), Double(o.packetsWritten)) }
        p.family("livegate_output_up", .gauge, help: "1 when the output is running, 0 otherwise.")
        for (id, o) in outputs { p.sample("livegate_output_up", labels(id, o), o.state == .running ? 1 : 0) }
        p.family("livegate_media_outputs_active", .gauge, help: "Output workers running on this node (including ones flushing).")
        p.sample("livegate_media_outputs_active", [], Double(media?.activeOutputs ?? 0))
        return p.text
    }

    // MARK: Service

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [weak self] in await self?.recoverInterruptedRecordings() }
            group.addTask { [weak self] in
                // Reconnect windows: check deadlines a few times a second.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                    await self?.expireWindows()
                    await self?.enforceRunningLimits()
                }
            }
            await withGracefulShutdownHandler {
                for await command in commands { await apply(command) }
            } onGracefulShutdown: { [commandSink] in
                commandSink.finish()
            }
            group.cancelAll()
        }
        // Anything still live (publishers were kicked with `shutdown` by the listener first).
        for id in Array(live.keys) { try? await end(id, reason: "shutdown") }
        // Outputs flush: MP4s get their index and their video records before the store closes.
        if let media, !(await media.drain(timeout: .seconds(8))) {
            logger.error("outputs did not finish before the shutdown deadline")
        }
    }

    // MARK: Media outputs

    /// Starts what the channel asks for (SPEC §3): HLS, a recording, its enabled forwards.
    private func startOutputs(_ entry: LiveChannel, connectionID: UInt64) async {
        guard let media else { return }
        let forwards = (try? await store.forwards(channelId: entry.channel.id)) ?? []
        media.configure(connectionID: connectionID, plan: OutputPlan(
            channelId: entry.channel.id, userId: entry.channel.userId, sessionId: entry.session.id, hls: entry.channel.hls,
            record: entry.channel.record, forwards: forwards.filter(\.enabled).map { .init(id: $0.id, url: $0.url) }))
    }

    /// Output reports, from the outputs' threads (which wait until this returns).
    func mediaEvent(_ event: MediaEvent) async {
        let now = Date()
        switch event {
        case .recordingFinished(let plan, let file):
            do {
                let video = try await recordVideo(channelId: plan.channelId, userId: plan.userId, sessionId: plan.sessionId, file: file)
                logger.info("recording ready", metadata: ["channel": "\(plan.channelId)", "session": "\(plan.sessionId)", "video": "\(video.id)",
                                                          "duration.sec": "\(video.durationSec)", "bytes": "\(video.sizeBytes)"])
            } catch {
                logger.error("recording not recorded in the store", metadata: ["channel": "\(plan.channelId)", "path": "\(file.path)", "error": "\(error)"])
            }
        case .forwardFailed(let plan, let forwardId, let url, let error, let attempts):
            outputFailures[plan.channelId, default: 0] += 1
            _ = try? await store.appendEvent(.make(type: "forward.failed", channelId: plan.channelId, userId: plan.userId, at: now, data: .object([
                "forward": .object(["id": .string(forwardId), "url": .string(url)]), "sessionId": .string(plan.sessionId),
                "error": .string(error), "attempts": .number(Double(attempts)),
            ])), now: now)
            dispatcher?.notify()
            logger.warning("forward failing", metadata: ["channel": "\(plan.channelId)", "forward": "\(forwardId)", "target": "\(url)",
                                                        "attempts": "\(attempts)", "error": "\(error)"])
        }
    }

    private var outputFailures: [String: Int] = [:]

    /// The `videos` row and its `video.ready` event, in one transaction.
    private func recordVideo(channelId: String, userId: String, sessionId: String, file: RecordingFile) async throws -> Video {
        let now = Date()
        let video = Video(id: Identifiers.make("vid"), channelId: channelId, userId: userId, sessionId: sessionId,
                          name: (file.path as NSString).lastPathComponent, path: file.path, durationSec: (file.durationSec * 1000).rounded() / 1000,
                          sizeBytes: file.sizeBytes, videoCodec: file.videoCodec, audioCodec: file.audioCodec, width: file.width,
                          height: file.height, createdAt: now)
        _ = try await store.createVideo(video, event: .make(type: "video.ready", channelId: channelId, userId: userId, at: now,
                                                            data: .object(["video": video.json])), now: now)
        dispatcher?.notify()
        return video
    }

    private func apply(_ command: Command) async {
        switch command {
        case .video(let ingest, let params):
            guard let (channelId, entry) = live.first(where: { $0.value.ingest?.connectionID == ingest.connectionID }) else { return }
            let l = entry.limits
            if let allowed = l.allowedVideoCodecs, !allowed.contains(params.codec.rawValue) {
                await violate(channelId, limit: "allowedVideoCodecs", value: .string(params.codec.rawValue))
            } else if let max = l.maxWidth, let w = params.width, w > max {
                await violate(channelId, limit: "maxWidth", value: .number(Double(w)))
            } else if let max = l.maxHeight, let h = params.height, h > max {
                await violate(channelId, limit: "maxHeight", value: .number(Double(h)))
            } else if let max = l.maxFps, let fps = params.frameRate, fps > max + 0.01 {
                await violate(channelId, limit: "maxFps", value: .number(fps))
            }
        case .metadata(let ingest, let width, let height, let fps):
            guard let (channelId, entry) = live.first(where: { $0.value.ingest?.connectionID == ingest.connectionID }) else { return }
            let l = entry.limits
            if let max = l.maxWidth, let w = width, w > Double(max) {
                await violate(channelId, limit: "maxWidth", value: .number(w))
            } else if let max = l.maxHeight, let h = height, h > Double(max) {
                await violate(channelId, limit: "maxHeight", value: .number(h))
            } else if let max = l.maxFps, let f = fps, f > max + 0.01 {
                await violate(channelId, limit: "maxFps", value: .number(f))
            }
        case .started(let ingest):
            guard let channelId = accepted.removeValue(forKey: ingest.request.streamKey), var entry = live[channelId] else { return }
            entry.ingest = ingest
            entry.starting = false
            live[channelId] = entry
            await startOutputs(entry, connectionID: ingest.connectionID)
        case .ended(let ingest, let reason, let stats):
            guard let (channelId, entry) = live.first(where: { $0.value.ingest?.connectionID == ingest.connectionID }) else { return }
            var updated = entry
            updated.ingest = nil
            try? await store.updateSessionStats(id: entry.session.id, bytesIn: Int64(stats.bytesReceived), videoFrames: Int64(stats.videoFrames),
                                                audioFrames: Int64(stats.audioFrames), videoCodec: stats.video?.codec.rawValue,
                                                audioCodec: stats.audio?.codec.rawValue)
            let offlineReason: String
            switch reason {
            case .unpublished: offlineReason = "unpublished"
            case .shutdown: offlineReason = "shutdown"
            case .kicked: offlineReason = entry.kickReason ?? "kicked"
            case .mediaTimeout: offlineReason = "media_timeout"
            case .connectionClosed, .protocolError: offlineReason = "connection_closed"
            }
            let waits = [IngestEndReason.connectionClosed, .mediaTimeout, .protocolError].contains(reason) && entry.channel.reconnectWindowSec > 0
            if waits {
                updated.offlineAt = Date().addingTimeInterval(TimeInterval(entry.channel.reconnectWindowSec))
                updated.offlineReason = offlineReason
                live[channelId] = updated
                logger.info("publisher gone; waiting for a reconnect", metadata: ["channel": "\(channelId)", "window.sec": "\(entry.channel.reconnectWindowSec)"])
            } else {
                live[channelId] = updated
                try? await end(channelId, reason: offlineReason)
            }
        }
    }

    /// Session length and sustained bitrate, checked a few times a second.
    private func enforceRunningLimits() async {
        let now = Date()
        for (id, var entry) in live {
            guard let ingest = entry.ingest, entry.kickReason == nil else { continue }
            if let max = entry.limits.maxSessionSec, now.timeIntervalSince(entry.session.startedAt) >= Double(max) {
                await violate(id, limit: "maxSessionSec", value: .number(Double(max)))
                continue
            }
            guard let maxKbps = entry.limits.maxBitrateKbps else { continue }
            entry.bitrateSamples.append((now, ingest.liveStats.mediaBytes))
            entry.bitrateSamples.removeAll { now.timeIntervalSince($0.0) > Self.bitrateWindow + 0.5 }
            live[id]?.bitrateSamples = entry.bitrateSamples
            if let first = entry.bitrateSamples.first, now.timeIntervalSince(first.0) >= Self.bitrateWindow {
                let kbps = Double(ingest.liveStats.mediaBytes &- first.1) * 8 / 1000 / now.timeIntervalSince(first.0)
                if kbps > Double(maxKbps) { await violate(id, limit: "maxBitrateKbps", value: .number((kbps * 10).rounded() / 10)) }
            }
        }
    }

    /// SPEC §4: a limit exceeded during a session gets a warning event, then a disconnect
    /// (offline reason `limit_exceeded`).
    private func violate(_ channelId: String, limit: String, value: JSONValue) async {
        guard var entry = live[channelId], let ingest = entry.ingest, entry.kickReason == nil else { return }
        entry.kickReason = "limit_exceeded"
        live[channelId] = entry
        _ = try? await store.appendEvent(.make(type: "channel.limit_exceeded", channelId: channelId, userId: entry.channel.userId, at: Date(),
                                               data: .object(["channel": entry.channel.eventJSON, "session": entry.session.json,
                                                              "limit": .string(limit), "value": value])), now: Date())
        dispatcher?.notify()
        logger.warning("user limit exceeded; disconnecting", metadata: ["channel": "\(channelId)", "limit": "\(limit)", "value": "\(value.jsonText)"])
        ingest.kick(.error(.publishRejected, limit), reason: .kicked)
    }

    private func expireWindows() async {
        let now = Date()
        for (id, entry) in live where entry.ingest == nil && !entry.starting {
            if let at = entry.offlineAt, at <= now { try? await end(id, reason: entry.offlineReason ?? "connection_closed") }
        }
    }

    private func end(_ channelId: String, reason: String) async throws {
        guard let entry = live.removeValue(forKey: channelId) else { return }
        try await end(sessionRecord: entry.session, channel: try await store.channel(id: channelId) ?? entry.channel, reason: reason)
    }

    private func end(sessionRecord: SessionRecord, channel: Channel?, reason: String) async throws {
        let now = Date()
        var session = try await store.session(id: sessionRecord.id) ?? sessionRecord
        session.endedAt = now
        session.endReason = reason
        var channelJSON: JSONValue = .null
        if var c = channel {
            c.status = .offline
            channelJSON = c.eventJSON
        }
        let ended = try await store.endSession(id: session.id, reason: reason, now: now, event: .make(
            type: "channel.offline", channelId: session.channelId, userId: channel?.userId, at: now,
            data: .object(["channel": channelJSON, "session": session.json])))
        if ended != nil {
            sessionsEndedByReason[reason, default: 0] += 1
            dispatcher?.notify()
            logger.info("channel offline", metadata: ["channel": "\(session.channelId)", "session": "\(session.id)", "reason": "\(reason)"])
        }
    }
}

/// Hands output reports to the coordinator without a reference cycle (the hub is created in
/// the coordinator's initializer, before `self` can be captured).
final class MediaEventRelay: Sendable {
    private let box = NIOLockedValueBox<WeakCoordinator>(WeakCoordinator())

    private struct WeakCoordinator { weak var value: IngestCoordinator? }

    var target: IngestCoordinator? {
        get { box.withLockedValue { $0.value } }
        set { box.withLockedValue { $0.value = newValue } }
    }

    func deliver(_ event: MediaEvent) async { await target?.mediaEvent(event) }
}
