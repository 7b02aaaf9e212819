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

    /// The publish's frames go straight to its media input (looked up once, here) and, for the
    /// rare ones the coordinator needs, to its queue (`PublisherMedia`).
    public nonisolated func mediaReceiver(for session: IngestSession) -> (any IngestMediaReceiver)? {
        PublisherMedia(input: media?.input(connectionID: session.connectionID), coordinator: self)
    }

    /// Per frame on the event loop when no receiver was asked for (a test driving the sink):
    /// the same as `PublisherMedia`, with the input looked up each time.
    public nonisolated func media(_ frame: MediaFrame, session: IngestSession) {
        media?.media(frame, connectionID: session.connectionID)
        mediaSideEffects(frame, session: session)
    }

    /// What the coordinator takes from the frame stream: video sequence headers and keyframes
    /// only (codec and size limits, the first keyframe, thumbnails) — nothing for other frames.
    nonisolated func mediaSideEffects(_ frame: MediaFrame, session: IngestSession) {
        guard frame.kind == .video else { return }
        if frame.trackId == 0, frame.packetType == .sequenceHeader || (frame.packetType == .codedFrames && frame.isKeyframe) {
            session.offerForThumbnail(frame)
        }
        // Once per connection (a lock only on keyframes): a publisher that moved switches here.
        if frame.isKeyframe, frame.trackId == 0, frame.packetType == .codedFrames, session.firstKeyframeSeen() {
            commandSink.yield(.firstKeyframe(session.connectionID, timedOut: false))
        }
        if frame.packetType == .sequenceHeader, let params = VideoCodecParameters.parse(frame) {
            commandSink.yield(.video(session, params))
        } else if frame.codec == .vp9, frame.isKeyframe, let size = VideoCodecParameters.keyframeSize(frame) {
            // VP9's size comes with its keyframes (one every few seconds): the size limits apply to it.
            commandSink.yield(.video(session, VideoCodecParameters(codec: .vp9, width: size.width, height: size.height)))
        }
    }

    public nonisolated func applicationRejected(app: String, remoteAddress: String) {
        commandSink.yield(.applicationRejected(app: app, remote: remoteAddress))
    }

    public nonisolated func metadata(_ metadata: AMFObject, session: IngestSession) {
        media?.metadata(metadata, connectionID: session.connectionID)
        commandSink.yield(.metadata(session, width: metadata["width"]?.numberValue, height: metadata["height"]?.numberValue,
                                    fps: metadata["framerate"]?.numberValue ?? metadata["fps"]?.numberValue))
    }

    /// Returns once every report the listener enqueued before this call has been applied: a
    /// test driving the coordinator in-process waits on it instead of on time.
    public nonisolated func processed() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            commandSink.yield(.barrier { done.resume() })
        }
    }

    func apply(_ command: Command) async {
        let now = clock.now()
        switch command {
        case .started(let ingest):
            let outcome = connections.started(ingest.connectionID, handle: ingest)
            if let kick = outcome.kick { ingest.kick(kick.status, reason: kick.reason) }
            guard let id = outcome.channelId, channels[id] != nil else { return }
            channels[id]?.book.connectionStarted(ingest.connectionID, remote: ingest.remoteAddress, encoder: ingest.request.connect.flashVer ?? "",
                                                 encoderCaps: ingest.request.connect.capabilities.map(\.json), at: now)
            await feed(id) { $0.publisherStarted(ingest.connectionID, now: now) }
        case .ended(let ingest, let reason, let stats):
            let outcome = connections.ended(ingest.connectionID)
            guard let id = outcome.channelId, channels[id] != nil else { return }
            // Only a connection of the current session counts towards its figures; one of a
            // session that moved to another node still adds its figures to that session.
            let finished = channels[id]?.book.connectionEnded(ingest.connectionID, reason: reason, bytes: stats.bytesReceived,
                                                              videoFrames: stats.videoFrames, audioFrames: stats.audioFrames, at: now)
            let target = outcome.released ?? channels[id]?.book.record.flatMap { record in finished.map { (record.id, $0) } }
            if let (sessionId, entry) = target {
                let video = stats.video?.codec.rawValue, audio = stats.audio?.codec.rawValue
                var entry = entry
                entry.endedAt = entry.endedAt ?? now
                entry.endReason = entry.endReason ?? reason.rawValue
                entry.bytesIn = Int64(stats.bytesReceived)
                entry.health = healthSeconds(channelId: id, connection: ingest.connectionID)
                let finished = entry
                await write("session figures") { [store] in
                    try await store.addSessionConnection(id: sessionId, finished, videoFrames: Int64(stats.videoFrames), audioFrames: Int64(stats.audioFrames),
                                                         videoCodec: video, audioCodec: audio)
                }
            }
            await feed(id) { $0.publisherEnded(ingest.connectionID, reason: reason, now: now) }
        case .abandoned(let connection):
            let isCurrent = connections.channel(of: connection).flatMap { channels[$0]?.machine.connection } == connection
            if case .publisherEnded(let id) = connections.closedBeforeStart(connection, isCurrent: isCurrent) {
                await feed(id) { $0.publisherEnded(connection, reason: .connectionClosed, now: now) }
            }
        case .video(let ingest, let params):
            await checkCodecLimits(ingest, params, now: now)
            if let id = connections.channel(of: ingest.connectionID) { await reportMediaIfReady(id, now: now) }
        case .metadata(let ingest, let width, let height, let fps):
            if let fps, let id = connections.channel(of: ingest.connectionID) { channels[id]?.book.declared(fps: fps, by: ingest.connectionID) }
            await checkMetadataLimits(ingest, width: width, height: height, fps: fps, now: now)
        case .barrier(let done):
            done()
        case .firstKeyframe(let connection, let timedOut):
            await firstKeyframe(connection, timedOut: timedOut)
        case .applicationRejected(let app, let remote):
            let rejection = ChannelLifecycle.Rejection(status: .error(.connectRejected, "unknown application"), reason: .unknownApp, limit: nil,
                                                       recordEvent: rejectionEvents.allow(.unknownApp, address: remote, now: now))
            await recordRejection(rejection, channel: nil, remote: remote, extra: ["app": .string(app)])
        }
    }
}

extension EncoderCapabilities {
    /// `encoderCaps` in the session's connections (docs/contract.md §2, "Negotiation").
    var json: JSONValue {
        var flags: [JSONValue] = []
        if let caps = capsEx {
            if caps.contains(.reconnect) { flags.append(.string("reconnect")) }
            if caps.contains(.multitrack) { flags.append(.string("multitrack")) }
            if caps.contains(.modEx) { flags.append(.string("modEx")) }
            if caps.contains(.timestampNanoOffset) { flags.append(.string("timestampNanoOffset")) }
        }
        func map(_ m: [String: Int]) -> JSONValue { .object(m.mapValues { .number(Double($0)) }) }
        return .object([
            "fourCcList": .array(fourCcList.map { .string($0) }), "videoFourCcInfoMap": map(videoFourCcInfoMap),
            "audioFourCcInfoMap": map(audioFourCcInfoMap), "capsEx": capsEx.map { .number(Double($0.rawValue)) } ?? .null,
            "capsExFlags": .array(flags),
        ])
    }
}
