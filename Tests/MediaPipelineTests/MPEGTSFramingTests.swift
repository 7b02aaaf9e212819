import Foundation
import Logging
@testable import MediaPipeline
import NIOCore
import RTMPCore
import TestSupport
import XCTest

/// `MPEGTSFraming`: H.264 laid out as Annex B and AAC as ADTS by us, on the way into MPEG-TS.
/// The bytes are checked by hand for the rules (AUD first, parameter sets before a keyframe,
/// malformed payloads refused), and the result against libavformat's own conversion: the same
/// clip through both paths must decode, with ffmpeg, to the same frames.
final class MPEGTSFramingTests: XCTestCase {
    /// avcC: version 1, High 4.0, 4-byte lengths, one SPS (4 bytes), one PPS (2 bytes).
    let record: [UInt8] = [1, 0x64, 0, 0x28, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x28, 1, 0, 2, 0x68, 0xEE]
    let sps: [UInt8] = [0, 0, 0, 1, 0x67, 0x64, 0, 0x28]
    let pps: [UInt8] = [0, 0, 0, 1, 0x68, 0xEE]
    let aud: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0]

    func framed(_ framing: MPEGTSFraming, _ payload: [UInt8], key: Bool) -> [UInt8]? {
        payload.withUnsafeBytes { raw -> [UInt8]? in
            guard let layout = framing.layout(raw, isKeyframe: key) else { return nil }
            var out = [UInt8](repeating: 0xAA, count: layout.size)
            out.withUnsafeMutableBytes { framing.write(raw, layout: layout, to: $0.baseAddress!) }
            return out
        }
    }

    func nal(_ bytes: [UInt8], lengthSize: Int = 4) -> [UInt8] {
        (0..<lengthSize).reversed().map { UInt8(truncatingIfNeeded: bytes.count >> (8 * $0)) } + bytes
    }

    func testH264BecomesAnnexBWithADelimiterAndTheParameterSetsBeforeAKeyframe() throws {
        let framing = try XCTUnwrap(MPEGTSFraming(TrackFormat(kind: .video, codec: .h264, extradata: record)))
        let sei: [UInt8] = [0x06, 5, 1, 0x80]
        let idr: [UInt8] = [0x65, 0x88, 0x84, 0x21, 0x43]
        let slice: [UInt8] = [0x41, 0x9A, 0x21]
        let start: [UInt8] = [0, 0, 0, 1]

        XCTAssertEqual(framed(framing, nal(sei) + nal(idr), key: true), aud + sps + pps + start + sei + start + idr)
        XCTAssertEqual(framed(framing, nal(slice), key: false), aud + start + slice, "no parameter sets between keyframes")
        // The publisher's own AUD stays first and is not doubled; the parameter sets follow it.
        let ownAUD: [UInt8] = [0x09, 0x10]
        XCTAssertEqual(framed(framing, nal(ownAUD) + nal(idr), key: true), start + ownAUD + sps + pps + start + idr)
        // A keyframe that carries its own SPS and PPS gets none added.
        let inBand = nal(Array(sps.dropFirst(4))) + nal(Array(pps.dropFirst(4))) + nal(idr)
        XCTAssertEqual(framed(framing, inBand, key: true), aud + sps + pps + start + idr)
        // An IDR the FLV header did not flag still gets them.
        XCTAssertEqual(framed(framing, nal(idr), key: false), aud + sps + pps + start + idr)

        // Malformed: a length past the end, a truncated prefix, nothing at all.
        XCTAssertNil(framed(framing, [0, 0, 0, 9, 0x41, 1], key: false))
        XCTAssertNil(framed(framing, nal(slice) + [0, 0], key: false))
        XCTAssertNil(framed(framing, [], key: false))
        XCTAssertNil(framed(framing, [0, 0, 0, 0], key: false), "only empty NAL units")
    }

    func testTwoByteLengthPrefixes() throws {
        var short = record
        short[4] = 0xFD
        let framing = try XCTUnwrap(MPEGTSFraming(TrackFormat(kind: .video, codec: .h264, extradata: short)))
        let slice: [UInt8] = [0x41, 0x9A, 0x21]
        XCTAssertEqual(framed(framing, nal(slice, lengthSize: 2) + nal(slice, lengthSize: 2), key: false),
                       aud + [0, 0, 0, 1] + slice + [0, 0, 0, 1] + slice)
    }

    func testRecordsAndConfigsItCannotLayOutAreLeftToLibavformat() {
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .video, codec: .h264, extradata: [])))
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .video, codec: .h264, extradata: Array(record.prefix(9)))), "truncated SPS")
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .video, codec: .h264, extradata: [0, 0, 0, 1, 0x67])), "Annex B extradata")
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .video, codec: .hevc, extradata: record)))
        // HE-AAC signalled explicitly (object type 5), an explicit sample rate (index 15), a PCE (channels 0).
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .audio, codec: .aac, extradata: [0x2B, 0x92, 0x08, 0x00])))
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .audio, codec: .aac, extradata: [0x17, 0x80, 0x5D, 0xC0, 0x10])))
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .audio, codec: .aac, extradata: [0x11, 0x80])))
        XCTAssertNil(MPEGTSFraming(TrackFormat(kind: .audio, codec: .mp3, extradata: [])))
    }

    func testAACGetsAnADTSHeader() throws {
        // AAC LC (2), 48 kHz (index 3), stereo (2).
        let framing = try XCTUnwrap(MPEGTSFraming(TrackFormat(kind: .audio, codec: .aac, extradata: [0x11, 0x90])))
        let payload = [UInt8](repeating: 0x21, count: 300)
        let out = try XCTUnwrap(framed(framing, payload, key: false))
        // 0xFFF sync, MPEG-4, no CRC; profile 1 (LC), index 3, channels 2; length 307; fullness 0x7FF.
        XCTAssertEqual(Array(out.prefix(7)), [0xFF, 0xF1, 0x4C, 0x80, 0x26, 0x7F, 0xFC])
        XCTAssertEqual(Array(out.dropFirst(7)), payload)
        XCTAssertNil(framed(framing, [UInt8](repeating: 0, count: 8186), key: false), "longer than ADTS can say")
    }

    func frames(_ clip: URL) throws -> [MediaFrame] { try flvClipFrames(clip) }

    /// A publisher's broken frame (a NAL unit length past the payload's end) costs that frame
    /// only: dropped and counted, said once in the log, and the channel's HLS goes on — where
    /// libavformat's filter failed the write and the output skipped the rest of the segment.
    func testAMalformedVideoFrameIsDroppedCountedAndLoggedAndTheHLSGoesOn() async throws {
        let dir = try MediaTools.temporaryDirectory("mpegts-malformed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        var all = try frames(clip)
        let broken = try XCTUnwrap(all.firstIndex { $0.kind == .video && $0.packetType == .codedFrames && !$0.isKeyframe && $0.dts > 2500 })
        all[broken].data = ByteBuffer(bytes: [0, 0, 0x10, 0, 0x41, 0x9A])
        let logs = LogCapture()
        var settings = MediaHub.Settings(dataDirectory: dir.appendingPathComponent("data").path)
        settings.hlsKeepAfterEndSeconds = 0
        let hub = MediaHub(settings: settings, logger: logs.logger(), onEvent: { _ in })
        hub.sessionStarted(connectionID: 1)
        hub.configure(connectionID: 1, plan: OutputPlan(channelId: "ch1", userId: "u1", sessionId: "ses_ch1", hls: true, record: false, forwards: []))
        for f in all { hub.media(f, connectionID: 1) }

        let coded = all.filter { $0.packetType == .codedFrames }.count
        let deadline = Date().addingTimeInterval(20)
        while hub.outputs(connectionID: 1).first.map({ $0.packetsWritten + $0.droppedPackets }) != coded, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let status = try XCTUnwrap(hub.outputs(connectionID: 1).first)
        XCTAssertEqual(status.kind, .hls)
        XCTAssertEqual(status.droppedPackets, 1, "the broken frame, and only it")
        XCTAssertEqual(status.packetsWritten, coded - 1)
        XCTAssertEqual(status.state, .running, "the output goes on")
        XCTAssertNil(status.lastError)
        let warnings = logs.matching { $0.message == "packet not written: malformed payload" }
        XCTAssertEqual(warnings.count, 1, "\(logs.all.map(\.message))")
        XCTAssertEqual(warnings.first?.metadata["output"], "hls")
        // Segments after the broken frame (cut at 4 s) are in the playlist.
        let playlist = dir.appendingPathComponent("data/hls/ch1/index.m3u8")
        while ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").components(separatedBy: "#EXTINF").count - 1 < 2, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let text = try String(contentsOf: playlist, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "#EXTINF").count - 1, 2, text)
        hub.sessionEnded(connectionID: 1)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
    }

    /// The same ffmpeg clip muxed to MPEG-TS twice — laid out by us, and converted by libavformat
    /// (`h264_mp4toannexb`, its ADTS writer) — decodes to the same video and audio frames.
    func testOurLayoutDecodesToTheSameFramesAsLibavformatsConversion() async throws {
        let dir = try MediaTools.temporaryDirectory("mpegts-framing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let frames = try self.frames(clip)
        let video = try XCTUnwrap(frames.first { $0.kind == .video && $0.packetType == .sequenceHeader }.flatMap(TrackFormat.video(sequenceHeader:)))
        let audio = try XCTUnwrap(frames.first { $0.kind == .audio && $0.packetType == .sequenceHeader }.flatMap(TrackFormat.audio))
        XCTAssertNotNil(MPEGTSFraming(video))
        XCTAssertNotNil(MPEGTSFraming(audio), "the clip's AAC is one ADTS can name")
        var outputs: [String] = []
        for framing in [true, false] {
            let path = dir.appendingPathComponent(framing ? "ours.ts" : "libav.ts").path
            let muxer = try MediaMuxer(format: "mpegts", url: path, layout: StreamLayout(tracks: [video, audio]), interrupt: InterruptFlag(),
                                       mpegTSFraming: framing)
            try muxer.open()
            for f in frames where f.packetType == .codedFrames {
                let written = try muxer.write(MediaPacket(kind: f.kind, track: f.kind == .video ? 0 : 1, dts: f.dts,
                                                          pts: f.dts + Int64(f.compositionTimeOffset), isKeyframe: f.isKeyframe, data: f.data))
                XCTAssertTrue(written)
            }
            try muxer.finish()
            outputs.append(path)
        }
        // What a demuxer reads from the streams (ADTS's profile, rate and channels; the SPS) is
        // the same too: StreamInfo compares codec, profile, size, rate, channels and packet count.
        let probedOurs = try await MediaTools.probe(path: outputs[0])
        let probedTheirs = try await MediaTools.probe(path: outputs[1])
        XCTAssertEqual(probedOurs, probedTheirs)
        XCTAssertEqual(probedOurs.map(\.codecName).sorted(), ["aac", "h264"])
        let codedVideo = frames.filter { $0.kind == .video && $0.packetType == .codedFrames }.count
        let codedAudio = frames.filter { $0.kind == .audio && $0.packetType == .codedFrames }.count
        for stream in ["v:0", "a:0"] {
            let ours = try await decodedFrames(outputs[0], stream: stream)
            let theirs = try await decodedFrames(outputs[1], stream: stream)
            XCTAssertEqual(ours.count, stream == "v:0" ? codedVideo : codedAudio, "every frame decodes (\(stream))")
            XCTAssertEqual(ours, theirs, "the same decoded \(stream) frames")
        }
    }

    func testTheScratchBufferGrowsToTheLargestPacketAndPadsItWithZeros() {
        let scratch = PacketScratch(capacity: 16)
        for size in [10, 100_000, 50] {
            let p = scratch.reserve(size)
            p.initializeMemory(as: UInt8.self, repeating: 0xAB, count: size)
            let padding = UnsafeRawBufferPointer(start: p + size, count: 64)
            XCTAssertTrue(padding.allSatisfy { $0 == 0 }, "zeroed padding after \(size) bytes")
        }
    }

    /// MD5 of each decoded frame of one stream (`ffmpeg -f framemd5`), strict about errors.
    func decodedFrames(_ path: String, stream: String) async throws -> [String] {
        let run = try await ProcessRunner.run("ffmpeg", ["-v", "error", "-xerror", "-i", path, "-map", "0:" + stream, "-f", "framemd5", "-"], timeout: 60)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        XCTAssertEqual(run.stderr, "", "ffmpeg decodes \(path) without a complaint")
        return run.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: ",").last ?? "") }
    }
}
