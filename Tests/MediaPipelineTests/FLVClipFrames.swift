import Foundation
import NIOCore
import RTMPCore

/// Every audio and video tag of an FLV clip (made by ffmpeg in the test) as the listener parses
/// them: what the MPEG-TS tests feed their writers.
func flvClipFrames(_ clip: URL) throws -> [MediaFrame] {
    let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: clip)))
    return try reader.tags.compactMap { tag -> MediaFrame? in
        if tag.type == 9 { return try FLVTagParser.parseVideo(tag.body, timestamp: tag.timestamp) }
        if tag.type == 8 { return try FLVTagParser.parseAudio(tag.body, timestamp: tag.timestamp) }
        return nil
    }
}
