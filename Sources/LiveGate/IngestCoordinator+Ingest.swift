import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import MediaPipeline
import RTMPCore
import RTMPServer

/// What the RTMP listener reports (`IngestEventSink`): on event loops, enqueued only; applied in
/// order by `run()` as inputs to the channel's machine.
extension IngestCoordinator {
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

    public nonisolated func applicationRejected(app: String, remoteAddress: String) {
        commandSink.yield(.applicationRejected(app: app, remote: remoteAddress))
    }

    public nonisolated func metadata(_ metadata: AMFObject, session: IngestSession) {
        media?.metadata(metadata, connectionID: session.connectionID)
        commandSink.yield(.metadata(session, width: metadata["width"]?.numberValue, height: metadata["height"]?.numberValue,
                                    fps: metadata["framerate"]?.numberValue ?? metadata["fps"]?.numberValue))
    }

    func apply(_ command: Command) async {
        let now = clock.now()
        switch command {
        case .started(let ingest):
            if let kick = pendingKicks.removeValue(forKey: ingest.connectionID) {
                ingest.kick(kick.status, reason: kick.reason)
            }
            guard let id = connections[ingest.connectionID]?.channelId, var tracked = channels[id] else { return }
            tracked.publishers[ingest.connectionID] = ingest
            tracked.bitrateSamples = []
            tracked.connectionIndex[ingest.connectionID] = tracked.connectionLog.count
            tracked.connectionLog.append(SessionConnection(remoteAddr: ingest.remoteAddress, encoder: ingest.request.connect.flashVer ?? "", startedAt: now))
            channels[id] = tracked
            await feed(id) { $0.publisherStarted(ingest.connectionID, now: now) }
        case .ended(let ingest, let reason, let stats):
            pendingKicks[ingest.connectionID] = nil
            guard let id = connections.removeValue(forKey: ingest.connectionID)?.channelId, var tracked = channels[id] else { return }
            tracked.publishers[ingest.connectionID] = nil
            tracked.mediaReported.remove(ingest.connectionID)
            tracked.declaredFps[ingest.connectionID] = nil
            // Only a connection of the current session counts towards its figures.
            let index = tracked.connectionIndex.removeValue(forKey: ingest.connectionID)
            if let index {
                tracked.endedTotals.bytes += stats.bytesReceived
                tracked.endedTotals.videoFrames += stats.videoFrames
                tracked.endedTotals.audioFrames += stats.audioFrames
                tracked.connectionLog[index].endedAt = now
                tracked.connectionLog[index].endReason = reason.rawValue
                tracked.connectionLog[index].bytesIn = Int64(stats.bytesReceived)
            }
            // A connection of a session that moved to another node still adds its figures to it.
            let released = releasedConnections.removeValue(forKey: ingest.connectionID)
            channels[id] = tracked
            let target: (sessionId: String, entry: SessionConnection)? = released
                ?? tracked.record.flatMap { record in index.map { (record.id, tracked.connectionLog[$0]) } }
            if let (sessionId, entry) = target {
                let video = stats.video?.codec.rawValue, audio = stats.audio?.codec.rawValue
                var entry = entry
                entry.endedAt = entry.endedAt ?? now
                entry.endReason = entry.endReason ?? reason.rawValue
                entry.bytesIn = Int64(stats.bytesReceived)
                let finished = entry
                await write("session figures") { [store] in
                    try await store.addSessionConnection(id: sessionId, finished, videoFrames: Int64(stats.videoFrames), audioFrames: Int64(stats.audioFrames),
                                                         videoCodec: video, audioCodec: audio)
                }
            }
            await feed(id) { $0.publisherEnded(ingest.connectionID, reason: reason, now: now) }
        case .abandoned(let connection):
            pendingKicks[connection] = nil
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
            if let id = connections[ingest.connectionID]?.channelId { await reportMediaIfReady(id, now: now) }
        case .metadata(let ingest, let width, let height, let fps):
            if let fps, fps > 0, fps < 1000, let id = connections[ingest.connectionID]?.channelId { channels[id]?.declaredFps[ingest.connectionID] = fps }
            await checkMetadataLimits(ingest, width: width, height: height, fps: fps, now: now)
        case .applicationRejected(let app, let remote):
            let rejection = ChannelLifecycle.Rejection(status: .error(.connectRejected, "unknown application"), reason: .unknownApp, limit: nil,
                                                       recordEvent: rejectionEvents.allow(.unknownApp, address: remote, now: now))
            await recordRejection(rejection, channel: nil, remote: remote, extra: ["app": .string(app)])
        }
    }
}
