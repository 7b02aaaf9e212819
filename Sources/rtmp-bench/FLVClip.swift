import Foundation
import NIOCore
import RTMPCore

/// The media a publisher replays: an FLV file's tags as RTMP messages, ready to send. Payloads
/// are slices of the one file buffer, shared by every publisher (no per-connection copies).
struct FLVClip: Sendable {
    struct Item: Sendable {
        var typeID: MessageTypeID
        var chunkStreamID: UInt32
        /// Milliseconds from the clip's first tag.
        var timestamp: UInt32
        var payload: ByteBuffer
    }

    /// `@setDataFrame onMetaData …`, sent once before the media.
    var metadata: ByteBuffer?
    var items: [Item]
    /// One pass, in milliseconds (last timestamp plus one frame interval).
    var durationMs: UInt32
    var bytes: Int

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: data))
        var items: [Item] = []
        var metadata: ByteBuffer?
        let first = reader.tags.first { $0.type == 8 || $0.type == 9 }?.timestamp ?? 0
        for tag in reader.tags {
            switch tag.type {
            case 18 where metadata == nil:
                var payload = ByteBuffer()
                AMF0Encoder.encode(.string("@setDataFrame"), into: &payload)
                var body = tag.body
                payload.writeBuffer(&body)
                metadata = payload
            case 8:
                items.append(Item(typeID: .audio, chunkStreamID: ChunkStreamID.audio, timestamp: tag.timestamp &- first, payload: tag.body))
            case 9:
                items.append(Item(typeID: .video, chunkStreamID: ChunkStreamID.video, timestamp: tag.timestamp &- first, payload: tag.body))
            default:
                break
            }
        }
        guard !items.isEmpty else { throw FLVFileReader.Malformed(description: "\(path) has no audio or video tags") }
        self.items = items
        self.metadata = metadata
        let videoTimes = items.filter { $0.typeID == .video }.map(\.timestamp)
        let step = videoTimes.count > 1 ? (videoTimes.last! - videoTimes.first!) / UInt32(videoTimes.count - 1) : 40
        durationMs = (items.map(\.timestamp).max() ?? 0) + max(step, 1)
        bytes = items.reduce(0) { $0 + $1.payload.readableBytes }
    }

    /// Sequence headers (AVC/AAC config) are sent once at the start of each connection, not on
    /// every loop of the clip.
    func isSequenceHeader(_ item: Item) -> Bool {
        guard item.payload.readableBytes >= 2, let b0 = item.payload.getInteger(at: item.payload.readerIndex, as: UInt8.self),
              let b1 = item.payload.getInteger(at: item.payload.readerIndex + 1, as: UInt8.self) else { return false }
        if item.typeID == .video { return b0 & 0x0F == 7 && b1 == 0 }
        return b0 >> 4 == 10 && b1 == 0
    }
}
