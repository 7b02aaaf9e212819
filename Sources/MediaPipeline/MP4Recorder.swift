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

/// docs/contract.md §3 `record`: one MP4 per session (a layout change mid-session starts `NAME-2.mp4`).
///
/// Crash-safe in two steps. While live, packets go to `NAME.mp4.part` as *fragmented* MP4
/// (an empty `moov`, then a `moof`+`mdat` at each keyframe and at least every second, flushed
/// as it is cut): whatever happens to the process, the `.part` on disk is playable up to its
/// last fragment. At the end — clean, network drop, kick, shutdown, or a failed write — the
/// `.part` is copied into the final `NAME.mp4` with the index at the front (`+faststart`, what
/// players and editors expect), reopened through libavformat for its duration, reported, and
/// only then removed. A `.part` left behind by a `kill -9` is finished the same way at the
/// next start (`recover(partPath:)`).
final class MP4Recorder: MediaWriter {
    /// A reconnecting or replacing publisher of the same session continues this file/push.
    var resumesInPlace: Bool { true }

    static let partSuffix = ".mp4.part"

    let directory: String
    private let baseName: String
    private let interrupt: InterruptFlag
    /// Reports a finished file; false = it could not be put on record (the store is down): the
    /// `.part` then stays, so the next start finishes and records it again.
    private let onFinished: @Sendable (RecordingFile) -> Bool
    private var muxer: MediaMuxer?
    private var part = 0
    private var partPath = ""
    private var offset: Int64?
    private var written = 0

    init(directory: String, baseName: String, interrupt: InterruptFlag, onFinished: @escaping @Sendable (RecordingFile) -> Bool) {
        self.directory = directory
        self.baseName = baseName
        self.interrupt = interrupt
        self.onFinished = onFinished
    }

    /// Fragmented MP4 for the `.part`: each fragment is complete on disk once cut.
    static let partMuxerOptions = [
        "movflags": "+frag_keyframe+empty_moov+default_base_moof",
        "frag_duration": "1000000", // µs: audio-only streams and long GOPs still fragment every second
        "flush_packets": "1",
    ]

    func open(_ layout: StreamLayout) throws(AVFailure) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw AVFailure("mkdir \(directory)", message: "\(error)")
        }
        part += 1
        partPath = "\(directory)/\(baseName)\(part > 1 ? "-\(part)" : "")\(Self.partSuffix)"
        let m = try MediaMuxer(format: "mp4", url: partPath, layout: layout, interrupt: interrupt)
        var options = Self.partMuxerOptions
        // AC-3/E-AC-3: the `dac3`/`dec3` box is built from the first frame, so the (empty)
        // `moov` must wait for it.
        if layout.tracks.contains(where: { $0.codec == .ac3 || $0.codec == .eac3 }) { options["movflags", default: ""] += "+delay_moov" }
        try m.open(muxerOptions: options)
        muxer = m
        offset = nil
        written = 0
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let muxer else { throw AVFailure("mp4 write", message: "not open") }
        // Each file starts at zero.
        let base = offset ?? packet.dts
        offset = base
        try muxer.write(packet, timestampOffset: base)
        written += 1
    }

    func finish() throws(AVFailure) {
        guard let m = muxer else { return }
        muxer = nil
        var trailerFailure: AVFailure?
        do throws(AVFailure) { try m.finish() } catch { trailerFailure = error }
        try complete(trailerFailure)
    }

    /// A write failed: the fragments already on disk are still a recording; keep them.
    func abort() {
        guard muxer != nil else { return }
        muxer = nil // closes the file
        try? complete(nil)
    }

    func close() { muxer = nil }

    private func complete(_ trailerFailure: AVFailure?) throws(AVFailure) {
        guard written > 0 else {
            try? FileManager.default.removeItem(atPath: partPath)
            if let trailerFailure { throw trailerFailure }
            return
        }
        if onFinished(try Self.finalize(partPath: partPath)) {
            try? FileManager.default.removeItem(atPath: partPath)
        }
        if let trailerFailure { throw trailerFailure }
    }

    /// `NAME.mp4.part` → `NAME.mp4` (faststart), verified by reopening it. The `.part` is left
    /// in place: the caller removes it once the recording is on record.
    static func finalize(partPath: String) throws(AVFailure) -> RecordingFile {
        let finalPath = String(partPath.dropLast(".part".count))
        let temporary = finalPath + ".tmp"
        let result: MediaRemuxer.Result
        do throws(AVFailure) {
            result = try MediaRemuxer.copy(from: partPath, to: temporary, format: "mp4", muxerOptions: ["movflags": "+faststart"])
            guard result.videoPackets + result.audioPackets > 0 else { throw AVFailure("remux \(partPath)", message: "no complete packet") }
            do {
                try? FileManager.default.removeItem(atPath: finalPath)
                try FileManager.default.moveItem(atPath: temporary, toPath: finalPath)
            } catch {
                throw AVFailure("rename \(temporary)", message: "\(error)")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        let probe = try MediaProbe.inspect(path: finalPath)
        let size = (try? FileManager.default.attributesOfItem(atPath: finalPath)[.size] as? NSNumber)?.int64Value ?? 0
        let video = result.streams.first { $0.kind == .video }, audio = result.streams.first { $0.kind == .audio }
        return RecordingFile(path: finalPath, durationSec: probe.durationSec, sizeBytes: size, videoCodec: video?.codec, audioCodec: audio?.codec,
                             width: video?.width, height: video?.height, videoFrames: result.videoPackets, audioFrames: result.audioPackets)
    }

    /// A `.part` found at start-up: the previous run ended without finishing it.
    /// Returns nil (and removes it) when not one whole packet made it to disk — the process
    /// died before the header or the first fragment. Any other failure (a full disk, say)
    /// throws and leaves the `.part` for the next start.
    static func recover(partPath: String) throws(AVFailure) -> RecordingFile? {
        do throws(AVFailure) {
            return try finalize(partPath: partPath)
        } catch where error.operation.hasPrefix("avformat_open_input") || error.operation.hasPrefix("remux") {
            try? FileManager.default.removeItem(atPath: partPath)
            return nil
        }
    }
}
