import LiveGateModel
import ChannelStore
import Foundation
import Logging
import MediaPipeline
import NIOConcurrencyHelpers

/// The media outputs of a session (docs/contract.md §3) and what they report back.
extension IngestCoordinator {
    /// Starts what the channel asks for: HLS, a recording, its enabled forwards.
    /// `part`: the session came from another node; this node's recording is that part of it.
    /// `continuesSince`: that session's start, so its HLS numbering goes on past the earlier parts'.
    func startOutputs(channelId: String, sessionId: String, connectionID: UInt64, part: Int? = nil, continuesSince: Date? = nil) async {
        guard let media, let channel = channels[channelId]?.machine.channel else { return }
        let forwards = (try? await store.forwards(channelId: channelId)) ?? []
        var plan = OutputPlan(channelId: channelId, userId: channel.userId, sessionId: sessionId, hls: channel.hls,
                              record: channel.record, forwards: forwards.filter(\.enabled).map { .init(id: $0.id, url: $0.url, enhanced: $0.enhanced) })
        plan.part = part
        plan.continuesSessionStartedAt = continuesSince
        media.configure(connectionID: connectionID, plan: plan)
    }

    /// Forwards changed through the API: the live session (if any) starts and stops pushes now
    /// rather than at its next publish.
    public func forwardsChanged(_ channelId: String) async {
        guard let media, let connectionID = channels[channelId]?.machine.connection else { return }
        guard let forwards = try? await store.forwards(channelId: channelId) else { return }
        // Still the same publisher after the await?
        guard channels[channelId]?.machine.connection == connectionID else { return }
        media.updateForwards(connectionID: connectionID, forwards: forwards.filter(\.enabled).map { .init(id: $0.id, url: $0.url, enhanced: $0.enhanced) })
    }

    /// Output reports, from the outputs' threads (which wait until this returns). Answers
    /// whether the event is handled for good (a recording on record).
    func mediaEvent(_ event: MediaEvent) async -> Bool {
        let now = clock.now()
        switch event {
        case .recordingFinished(let plan, let file):
            if await record(plan, file) { return true }
            // Not lost: its .part stays, and it is retried until the store takes it.
            unrecordedVideos.append((plan, file, now.addingTimeInterval(2)))
            return false
        case .forwardFailed(let plan, let forwardId, let url, let error, let attempts):
            let channel = await eventChannel(plan.channelId)
            let event = NewEvent.make(type: EventType.forwardFailed.rawValue, channelId: plan.channelId, userId: plan.userId, at: now, data: .object([
                "channel": channel?.eventJSON ?? .null,
                "forward": .object(["id": .string(forwardId), "url": .string(url)]), "sessionId": .string(plan.sessionId),
                "error": .string(error), "attempts": .number(Double(attempts)),
            ]))
            await write("forward.failed") { [store] in _ = try await store.appendEvent(event, now: now) }
            logger.warning("forward failing", metadata: ["channel": "\(plan.channelId)", "forward": "\(forwardId)", "target": "\(url)",
                                                        "attempts": "\(attempts)", "error": "\(error)"])
            return true
        }
    }

    private func record(_ plan: OutputPlan, _ file: RecordingFile) async -> Bool {
        do {
            // Already on record (a retry after an answer that was lost)?
            if try await store.video(path: file.path) == nil {
                let video = try await recordVideo(channelId: plan.channelId, userId: plan.userId, sessionId: plan.sessionId, file: file)
                logger.info("recording ready", metadata: ["channel": "\(plan.channelId)", "session": "\(plan.sessionId)", "video": "\(video.id)",
                                                          "duration.sec": "\(video.durationSec)", "bytes": "\(video.sizeBytes)"])
            }
            return true
        } catch {
            logger.error("recording not on record yet; retrying", metadata: ["channel": "\(plan.channelId)", "path": "\(file.path)", "error": "\(StoreFactory.describe(error))"])
            return false
        }
    }

    /// Recordings finished while the store was failing: recorded once it answers, then their `.part` goes.
    func retryUnrecordedVideos(now: Date) async {
        guard unrecordedVideos.contains(where: { $0.retryAt <= now }) else { return }
        var still: [(plan: OutputPlan, file: RecordingFile, retryAt: Date)] = []
        for entry in unrecordedVideos {
            if entry.retryAt > now { still.append(entry); continue }
            if await record(entry.plan, entry.file) {
                try? FileManager.default.removeItem(atPath: entry.file.path + ".part")
            } else {
                still.append((entry.plan, entry.file, now.addingTimeInterval(5)))
            }
        }
        unrecordedVideos = still
    }

    /// The channel as an event should show it now: every channel-scoped event carries it. While
    /// a session is recorded it is `live` (the machine keeps the channel as read at publish
    /// time); once the session is over, as stored; nil if it was deleted.
    func eventChannel(_ channelId: String) async -> Channel? {
        if let tracked = channels[channelId] {
            var channel = tracked.machine.channel
            if let record = tracked.book.record {
                channel.status = .live
                channel.lastLiveAt = record.startedAt
            }
            return channel
        }
        return try? await store.channel(id: channelId)
    }

    /// The `videos` row and its `video.ready` event, in one transaction.
    func recordVideo(channelId: String, userId: String, sessionId: String, file: RecordingFile) async throws -> Video {
        let now = clock.now()
        let video = Video(id: Identifiers.make("vid"), channelId: channelId, userId: userId, sessionId: sessionId,
                          name: (file.path as NSString).lastPathComponent, path: file.path, durationSec: (file.durationSec * 1000).rounded() / 1000,
                          sizeBytes: file.sizeBytes, videoCodec: file.videoCodec, audioCodec: file.audioCodec, width: file.width,
                          height: file.height, createdAt: now, nodeId: nodeId)
        // The channel as it is now (a recording finishes after its session ended); null if deleted.
        let channel = await eventChannel(channelId)
        _ = try await store.createVideo(video, event: .make(type: EventType.videoReady.rawValue, channelId: channelId, userId: userId, at: now,
                                                            data: .object(["channel": channel?.eventJSON ?? .null, "video": video.json])), now: now)
        dispatcher?.notify()
        if let thumbnails { Task { await thumbnails.makePoster(file: file.path) } }
        return video
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

    func deliver(_ event: MediaEvent) async -> Bool { await target?.mediaEvent(event) ?? false }
}
