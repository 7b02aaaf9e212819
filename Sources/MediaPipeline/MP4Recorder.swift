import Foundation
import RTMPCore

/// A finished MP4 recording, reported once its file is complete and verified.
public struct RecordingFile: Sendable, Equatable {
    public var path: String
    public var durationSec: Double
    public var sizeBytes: Int64
    public var videoCodec: String?
    public var audioCodec: String?
    public var width: Int?
    public var height: Int?
    public var videoFrames: Int
    public var audioFrames: Int
}

/// SPEC §3 `record`: each session remuxed to MP4 with the index moved to the front
/// (`+faststart`), written as `NAME.mp4.part` and renamed when the trailer is on disk, so a
/// `.mp4` is always complete. A layout change mid-session closes the file and starts
/// `NAME-2.mp4`. Each file is reopened through libavformat before it is reported: the duration
/// comes from the file itself.
final class MP4Recorder: MediaWriter {
    let directory: String
    private let baseName: String
    private let interrupt: InterruptFlag
    private let onFinished: @Sendable (RecordingFile) -> Void
    private var muxer: MediaMuxer?
    private var part = 0
    private var partPath = ""
    private var layout = StreamLayout(tracks: [])
    private var offset: Int64?
    private var videoFrames = 0
    private var audioFrames = 0

    init(directory: String, baseName: String, interrupt: InterruptFlag, onFinished: @escaping @Sendable (RecordingFile) -> Void) {
        self.directory = directory
        self.baseName = baseName
        self.interrupt = interrupt
        self.onFinished = onFinished
    }

    func open(_ layout: StreamLayout) throws(AVFailure) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AVFailure("mkdir \(directory)", message: "\(error)")
        }
        part += 1
        partPath = "\(directory)/\(baseName)\(part > 1 ? "-\(part)" : "").mp4.part"
        let m = try MediaMuxer(format: "mp4", url: partPath, layout: layout, interrupt: interrupt)
        try m.open(muxerOptions: ["movflags": "+faststart"])
        muxer = m
        self.layout = layout
        offset = nil
        videoFrames = 0
        audioFrames = 0
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let muxer else { throw AVFailure("mp4 write", message: "not open") }
        // Each file starts at zero.
        let base = offset ?? packet.dts
        offset = base
        try muxer.write(packet, timestampOffset: base)
        if packet.kind == .video { videoFrames += 1 } else { audioFrames += 1 }
    }

    func finish() throws(AVFailure) {
        guard let m = muxer else { return }
        muxer = nil
        do throws(AVFailure) {
            try m.finish()
        } catch {
            try? FileManager.default.removeItem(atPath: partPath)
            throw error
        }
        guard videoFrames + audioFrames > 0 else {
            try? FileManager.default.removeItem(atPath: partPath)
            return
        }
        let finalPath = String(partPath.dropLast(".part".count))
        do {
            try? FileManager.default.removeItem(atPath: finalPath)
            try FileManager.default.moveItem(atPath: partPath, toPath: finalPath)
        } catch {
            throw AVFailure("rename \(partPath)", message: "\(error)")
        }
        let probe = try MediaProbe.inspect(path: finalPath)
        let size = (try? FileManager.default.attributesOfItem(atPath: finalPath)[.size] as? NSNumber)?.int64Value ?? 0
        onFinished(RecordingFile(path: finalPath, durationSec: probe.durationSec, sizeBytes: size,
                                 videoCodec: layout.video?.codec.rawValue, audioCodec: layout.audio?.codec.rawValue,
                                 width: layout.video?.width, height: layout.video?.height,
                                 videoFrames: videoFrames, audioFrames: audioFrames))
    }

    /// A failed file is useless without its index: remove it.
    func abort() {
        muxer = nil
        if !partPath.isEmpty { try? FileManager.default.removeItem(atPath: partPath) }
    }

    func close() { muxer = nil }
}
