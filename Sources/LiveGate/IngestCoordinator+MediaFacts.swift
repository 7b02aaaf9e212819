import LiveGateModel
import ChannelStore
import Foundation
import RTMPServer

/// `channel.media` (docs/contract.md §2, "Media facts"): once a publisher's first sequence
/// headers are parsed — both tracks, or whichever arrived within a second of its start — the
/// codec, size, frame rate, sample rate and channels of each track are recorded with the session
/// and sent, so an App Server need not poll `/stats`. `channel.live` stays immediate. A publisher
/// that reconnects with the same tracks sends nothing new; one with other tracks reports them.
extension IngestCoordinator {
    /// How long after a publisher starts its tracks are reported with what is known by then.
    static let mediaReportWait: TimeInterval = 1

    func reportMediaIfReady(_ channelId: String, now: Date) async {
        // Asked for every channel at every tick and once reported there is nothing to do: that
        // is found from two small reads, before the channel's state and its publisher's handle
        // are looked up (2 % of the gateway's CPU at 1,500 publishers — BENCHMARKS.md, "eleventh session").
        guard let connection = channels[channelId]?.machine.connection, channels[channelId]?.book.mediaReportPending(connection) == true else { return }
        guard let tracked = channels[channelId], let record = tracked.book.record, let ingest = current(tracked),
              tracked.book.mediaReportPending(ingest.connectionID) else { return }
        let stats = ingest.stats
        guard channels[channelId]?.book.mediaReportDue(ingest.connectionID, hasVideo: stats.video != nil, hasAudio: stats.audio != nil,
                                                       now: now, wait: Self.mediaReportWait) == true else { return }

        var video: JSONValue = .null
        if let v = stats.video {
            // The SPS's own timing, else what the encoder declared in onMetaData, else what was measured.
            let rate = v.frameRate ?? tracked.book.declaredFps(of: ingest.connectionID) ?? (stats.fps > 0 ? stats.fps : nil)
            video = .object([
                "codec": .string(v.codec.rawValue), "profile": v.profileName.map(JSONValue.string) ?? .null,
                "level": v.level.map { .number(Double($0)) } ?? .null,
                "width": v.width.map { .number(Double($0)) } ?? .null, "height": v.height.map { .number(Double($0)) } ?? .null,
                "frameRate": rate.map { .number(($0 * 1000).rounded() / 1000) } ?? .null,
                "bitDepth": v.bitDepth.map { .number(Double($0)) } ?? .null, "chromaFormat": v.chromaFormat.map(JSONValue.string) ?? .null,
            ])
        }
        let audio: JSONValue = stats.audio.map { a in
            .object(["codec": .string(a.codec.rawValue), "sampleRate": a.sampleRate.map { .number(Double($0)) } ?? .null,
                     "channels": a.channels.map { .number(Double($0)) } ?? .null])
        } ?? .null
        let media: JSONValue = .object(["video": video, "audio": audio])
        guard media != record.media else { return }
        channels[channelId]?.book.mediaRecorded(media)
        var session = record
        session.media = media
        let channel = await eventChannel(channelId) ?? tracked.machine.channel
        let event = NewEvent.make(type: EventType.channelMedia.rawValue, channelId: channelId, userId: channel.userId, at: now,
                                  data: .object(["channel": channel.eventJSON, "session": session.json, "video": video, "audio": audio]))
        logger.info("publisher media", metadata: ["channel": "\(channelId)", "session": "\(record.id)", "media": "\(media.jsonText)",
                                                  "rtmp.connection.id": "\(ingest.connectionID)"])
        await write("channel.media") { [store] in _ = try await store.recordSessionMedia(id: record.id, media: media, event: event, now: now) }
    }
}
