import LiveGateModel
import ChannelStore
import Foundation
import RTMPCore
import MediaPipeline
import RTMPServer

/// What the API and `/metrics` read: measured figures of the live sessions.
extension IngestCoordinator {
    /// The listener's connection count, for `/v1/system/stats`.
    public func setConnectionCounter(_ counter: @escaping @Sendable () -> Int) { connectionCounter = counter }
    /// The RTMP listener's publish-decision durations, for `/metrics`.
    public func setPublishDecisionTimes(_ times: PublishDecisionTimes) { decisionTimes = times }

    /// The publisher carrying a channel's session now, if one is connected and started.
    func current(_ tracked: Tracked) -> IngestSession? {
        tracked.machine.connection.flatMap { connections.handle(of: $0) }
    }

    /// `/v1/channels/{id}/stats`: one shape whether a publisher is connected (`live`) or the
    /// session waits for one (`reconnecting`, `starting`); bytes and frames cover every
    /// connection of the session, `uptimeSec` counts from the session's start.
    public func channelStats(_ channelId: String) async -> ChannelStats? {
        guard let tracked = channels[channelId], tracked.machine.holdsLiveSlot, let session = tracked.machine.session else { return nil }
        let ingest = current(tracked)
        let phase = tracked.machine.phase
        var stats = ChannelStats(status: ingest != nil ? "live" : (phase == .live ? "starting" : phase.rawValue), sessionId: session.id)
        stats.uptimeSec = clock.now().timeIntervalSince(session.startedAt)
        let totals = tracked.book.totals
        stats.bytesIn = totals.bytes
        stats.videoFrames = totals.videoFrames
        stats.audioFrames = totals.audioFrames
        if let ingest {
            let s = ingest.stats
            stats.bytesIn += UInt64(s.mediaBytes)
            stats.videoFrames += s.videoFrames
            stats.audioFrames += s.audioFrames
            stats.bitrateKbps = s.bitrateKbps
            stats.bitrateKbps10s = s.bitrateKbps10s
            stats.fps = s.fps
            stats.keyframeIntervalSec = s.keyframeIntervalSec
            stats.video = s.video.map(Self.videoStats)
            stats.audio = s.audio.map { .init(codec: $0.codec.rawValue, sampleRate: $0.sampleRate, channels: $0.channels, channelLayout: $0.channelLayout) }
            let late = Set(media?.lateTracks(connectionID: ingest.connectionID) ?? [])
            stats.tracks = s.tracks.map { t in
                ChannelStats.Track(trackId: Int(t.key.trackId), kind: t.key.kind.rawValue, codec: t.codec.rawValue, bitrateKbps: t.bitrateKbps,
                                   frames: t.frames, frameRate: t.frameRate, keyframeIntervalSec: t.keyframeIntervalSec,
                                   video: t.video.map(Self.videoStats),
                                   audio: t.audio.map { .init(codec: $0.codec.rawValue, sampleRate: $0.sampleRate, channels: $0.channels,
                                                              channelLayout: $0.channelLayout) },
                                   aligned: t.alignedWithTrack0,
                                   inOutputs: !late.contains("\(t.key.kind.rawValue) \(t.key.trackId) (\(t.codec.rawValue))"))
            }
            stats.timestampRepairs = s.timestampRepairs
            stats.avDriftMs = s.avDriftMs.map { Int($0) }
            stats.outputs = outputStatuses(ingest.connectionID)
            stats.health = currentHealth(channelId, droppedPackets: stats.outputs.reduce(0) { $0 + $1.droppedPackets })
        }
        return stats
    }

    static func videoStats(_ v: VideoCodecParameters) -> ChannelStats.Video {
        var video = ChannelStats.Video(codec: v.codec.rawValue, profile: v.profileName, level: v.level, width: v.width, height: v.height,
                                       bitDepth: v.bitDepth, chromaFormat: v.chromaFormat)
        if let c = v.color {
            video.setColor(range: c.videoRange, primaries: c.colorPrimaries, transfer: c.transferCharacteristics, matrix: c.matrixCoefficients)
        }
        return video
    }

    func outputStatuses(_ connectionID: UInt64) -> [ChannelStats.Output] {
        (media?.outputs(connectionID: connectionID) ?? []).map { o in
            ChannelStats.Output(kind: o.kind.rawValue, id: o.id, state: o.state.rawValue, droppedPackets: o.droppedPackets,
                                packetsWritten: o.packetsWritten, attempts: o.attempts, lastError: o.lastError, notCarried: o.notCarried)
        }
    }

    /// The live channel's outputs (forward states for `/v1/channels/{id}/forwards`).
    public func outputs(_ channelId: String) async -> [ChannelStats.Output] {
        guard let connectionID = channels[channelId].flatMap(current)?.connectionID else { return [] }
        return outputStatuses(connectionID)
    }

    public func ingestSummary() async -> JSONValue {
        let kbps = channels.values.compactMap { current($0)?.stats.bitrateKbps10s }.reduce(0, +)
        return .object(["connections": .number(Double(connectionCounter?() ?? 0)),
                        "liveChannels": .number(Double(channels.values.filter { $0.machine.holdsLiveSlot }.count)),
                        "ingestBitrateKbps": .number((kbps * 10).rounded() / 10)])
    }

    /// docs/contract.md §6 metrics. Labels are bounded: channel ids of live channels, reasons, outcomes —
    /// never a stream key.
    public func prometheusText() async -> String {
        var p = PrometheusText()
        p.family("livegate_rtmp_connections", .gauge, help: "Open RTMP connections.")
        p.sample("livegate_rtmp_connections", [], Double(connectionCounter?() ?? 0))
        p.family("livegate_live_channels", .gauge, help: "Channels live on this node (including reconnect windows).")
        p.sample("livegate_live_channels", [], Double(channels.values.filter { $0.machine.holdsLiveSlot }.count))
        p.family("livegate_sessions_started_total", .counter, help: "Publish sessions started.")
        p.sample("livegate_sessions_started_total", [], Double(sessionsStarted))
        p.family("livegate_sessions_ended_total", .counter, help: "Publish sessions ended, by offline reason.")
        for (reason, n) in sessionsEndedByReason.sorted(by: { $0.key < $1.key }) { p.sample("livegate_sessions_ended_total", [("reason", reason)], Double(n)) }
        if let decisionTimes {
            p.family("livegate_publish_decision_seconds", .histogram,
                     help: "From a publish command read to its answer written (Publish.Start, or the refusal), by outcome.")
            for outcome in PublishDecisionTimes.Outcome.allCases {
                let s = decisionTimes.snapshot(outcome)
                p.histogram("livegate_publish_decision_seconds", [("outcome", outcome.rawValue)], cumulative: s.cumulative, sum: s.sum)
            }
        }
        p.family("livegate_publish_rejections_total", .counter, help: "Refused publishes, by reason.")
        for (reason, n) in rejectionsByReason.sorted(by: { $0.key < $1.key }) { p.sample("livegate_publish_rejections_total", [("reason", reason)], Double(n)) }
        p.family("livegate_lease_renewals_total", .counter, help: "Renewals of this node's leases, by outcome.")
        for (outcome, n) in leaseRenewals.sorted(by: { $0.key < $1.key }) { p.sample("livegate_lease_renewals_total", [("outcome", outcome)], Double(n)) }
        p.family("livegate_leases_held", .gauge, help: "Sessions whose lease this node holds.")
        p.sample("livegate_leases_held", [], Double(channels.values.filter { $0.book.record != nil }.count))
        p.family("livegate_store_writes_pending", .gauge, help: "Lifecycle writes the store refused (an outage), waiting to be retried in order.")
        p.sample("livegate_store_writes_pending", [], Double(deferredWrites.count))
        p.family("livegate_store_writes_dropped_total", .counter, help: "Refusal events not kept because too many were queued during an outage.")
        p.sample("livegate_store_writes_dropped_total", [], Double(droppedWrites))
        p.family("livegate_webhook_deliveries_total", .counter, help: "Webhook delivery attempts, by outcome.")
        for (outcome, n) in (dispatcher?.outcomeCounts ?? [:]).sorted(by: { $0.key < $1.key }) {
            p.sample("livegate_webhook_deliveries_total", [("outcome", outcome)], Double(n))
        }
        if let backlog = await dispatcher?.backlog() {
            p.family("livegate_webhook_backlog", .gauge, help: "Webhook deliveries waiting to be made (first attempts and retries), across the fleet.")
            p.sample("livegate_webhook_backlog", [], Double(backlog.pending))
            p.family("livegate_webhook_oldest_pending_age_seconds", .gauge, help: "Age of the oldest delivery waiting, in seconds (0: none).")
            p.sample("livegate_webhook_oldest_pending_age_seconds", [], backlog.oldestAgeSeconds)
        }
        let perChannel: [(String, Channel, IngestStatsSnapshot)] = channels.compactMap { id, e in current(e).map { (id, e.machine.channel, $0.stats) } }
            .sorted { $0.0 < $1.0 }
        let families: [(String, PrometheusText.Kind, String, (IngestStatsSnapshot) -> Double?)] = [
            ("livegate_channel_ingest_bytes_total", .counter, "Media bytes received in the current session.", { Double($0.mediaBytes) }),
            ("livegate_channel_video_frames_total", .counter, "Video frames received in the current session.", { Double($0.videoFrames) }),
            ("livegate_channel_audio_frames_total", .counter, "Audio frames received in the current session.", { Double($0.audioFrames) }),
            ("livegate_channel_ingest_bytes_per_second", .gauge, "Measured ingest rate over the last 10 s, in bytes per second (Prometheus's base unit).",
             { $0.bitrateKbps10s * 1000 / 8 }),
            ("livegate_channel_bitrate_kbps", .gauge, "Deprecated (removed in the next release): livegate_channel_ingest_bytes_per_second × 8 / 1000.",
             { $0.bitrateKbps10s }),
            ("livegate_channel_fps", .gauge, "Measured video frame rate.", { $0.fps }),
            ("livegate_channel_keyframe_interval_seconds", .gauge, "Measured keyframe interval.", { $0.keyframeIntervalSec }),
            ("livegate_channel_timestamp_repairs_total", .counter, "Non-monotonic timestamps repaired.", { Double($0.timestampRepairs) }),
        ]
        for (name, kind, help, value) in families {
            p.family(name, kind, help: help)
            for (id, _, stats) in perChannel { if let v = value(stats) { p.sample(name, [("channel", id)], v) } }
        }
        // Health: one series per state (1 for the current one), and the fleet view by state.
        p.family("livegate_channel_health", .gauge, help: "1 for the channel's current stream health state (healthy, degraded, starving).")
        var byState: [HealthState: Int] = [:]
        for (id, _, _) in perChannel {
            guard let state = health[id]?.monitor.state, health[id]?.monitor.connection != nil else { continue }
            byState[state, default: 0] += 1
            for s in HealthState.allCases { p.sample("livegate_channel_health", [("channel", id), ("state", s.rawValue)], s == state ? 1 : 0) }
        }
        p.family("livegate_channels_by_health", .gauge, help: "Live channels on this node by stream health state.")
        for s in HealthState.allCases { p.sample("livegate_channels_by_health", [("state", s.rawValue)], Double(byState[s] ?? 0)) }
        p.family("livegate_channel_received_fps", .gauge, help: "Video frames received per second over the health window (10 s).")
        for (id, _, _) in perChannel {
            if let fps = health[id].flatMap({ $0.monitor.connection != nil ? $0.monitor.current(droppedPackets: 0).receivedFps : nil }) {
                p.sample("livegate_channel_received_fps", [("channel", id)], fps)
            }
        }
        // Outputs: labels are the channel id and the output kind (forward ids, never URLs).
        let outputs: [(String, OutputStatus)] = channels.compactMap { id, e in current(e).map { (id, $0.connectionID) } }
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
        if let thumbnails {
            let (decodes, seconds) = await thumbnails.usage
            p.family("livegate_thumbnail_decodes_total", .counter, help: "Thumbnails and posters decoded on this node.")
            p.sample("livegate_thumbnail_decodes_total", [], Double(decodes))
            p.family("livegate_thumbnail_decode_seconds_total", .counter, help: "Wall time spent decoding, scaling and encoding them, on the thumbnail pool.")
            p.sample("livegate_thumbnail_decode_seconds_total", [], seconds)
        }
        ProcessMetrics.append(to: &p, version: LiveGateApp.version)
        return p.text
    }
}
