import Foundation
import NIOCore
@testable import RTMPCore
import TestSupport
import XCTest

/// Issue #22 items 2, 3 and 5: Enhanced RTMP v2 multitrack, ModEx and MultichannelConfig.
/// The streams come from FFmpeg 8's encoders and FLV muxer (PyAV, `scripts/multitrack-fixture.py`):
/// what FFmpeg reads back from the file is the answer. The `ManyTracks` and
/// `ManyTracksManyCodecs` forms, which no encoder here writes, are built from the
/// specification's syntax around the same encoder-written track payloads.
final class MultitrackParserTests: XCTestCase {
    struct Stream: Decodable, Equatable {
        var kind: String
        var codec: String
        var width: Int
        var height: Int
        var sampleRate: Int
        var channels: Int
        var packets: Int
    }

    func fixture() async throws -> (tags: [FLVFileReader.Tag], ffmpeg: [Stream]) {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("multitrack-\(UUID()).flv")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/multitrack-fixture.py").path
        let run = try await ProcessRunner.run(python, [script, file.path], timeout: 120)
        XCTAssertEqual(run.exitCode, 0, run.stderr.suffix(2000).description)
        let json = try XCTUnwrap(run.stdout.split(separator: "\n").last { $0.hasPrefix("[") }, run.stdout)
        let streams = try JSONDecoder().decode([Stream].self, from: Data(json.utf8))
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: file)))
        return (reader.tags, streams)
    }

    /// Every track FFmpeg wrote is found with its own codec, size, rate and channels.
    func testFFmpegsMultitrackFLVParsesIntoEveryTrack() async throws {
        let (tags, ffmpeg) = try await fixture()
        var measured: [MediaTrackKey: TrackMeasurement] = [:]
        var frames: [MediaTrackKey: Int] = [:]
        for tag in tags where tag.type == 8 || tag.type == 9 {
            let parsed = tag.type == 9 ? try FLVTagParser.parseVideoMessage(tag.body, timestamp: tag.timestamp)
                                       : try FLVTagParser.parseAudioMessage(tag.body, timestamp: tag.timestamp)
            for var frame in parsed where frame.packetType != .metadata {
                let key = MediaTrackKey(kind: frame.kind, trackId: frame.trackId)
                measured[key, default: TrackMeasurement()].measure(&frame, timestamp: tag.timestamp)
                if frame.packetType == .codedFrames { frames[key, default: 0] += 1 }
            }
        }
        XCTAssertEqual(measured.keys.sorted(), [.init(kind: .video, trackId: 0), .init(kind: .video, trackId: 1),
                                                .init(kind: .audio, trackId: 0), .init(kind: .audio, trackId: 1)])
        let videos = ffmpeg.filter { $0.kind == "video" }, audios = ffmpeg.filter { $0.kind == "audio" }
        for (id, expected) in videos.enumerated() {
            let v = try XCTUnwrap(measured[.init(kind: .video, trackId: UInt8(id))]?.video, "video \(id)")
            XCTAssertEqual(v.codec.rawValue, expected.codec, "video \(id)")
            XCTAssertEqual(v.width, expected.width, "video \(id)")
            XCTAssertEqual(v.height, expected.height, "video \(id)")
            XCTAssertEqual(frames[.init(kind: .video, trackId: UInt8(id))], 45, "video \(id): every frame, none taken for another track")
        }
        for (id, expected) in audios.enumerated() {
            let a = try XCTUnwrap(measured[.init(kind: .audio, trackId: UInt8(id))]?.audio, "audio \(id)")
            XCTAssertEqual(a.codec.rawValue, expected.codec, "audio \(id)")
            XCTAssertEqual(a.sampleRate, expected.sampleRate, "audio \(id)")
            XCTAssertEqual(a.channels, expected.channels, "audio \(id)")
        }
        // Opus 5.1 came with a MultichannelConfig (native order, mask FL FR FC LFE BL BR).
        XCTAssertEqual(measured[.init(kind: .audio, trackId: 1)]?.audio?.channelLayout, "5.1")
    }

    /// The same payloads packed as one `ManyTracks` message (one FourCC, a size per track) and
    /// as `ManyTracksManyCodecs` (a FourCC per track) give the same frames as FFmpeg's
    /// one-message-per-track form.
    func testManyTracksFormsCarryTheSameFrames() async throws {
        let (tags, _) = try await fixture()
        // FFmpeg's OneTrack messages of video track 1 (HEVC), and track 0's frames (AVC, classic)
        // at the same timestamps.
        var oneTrack: [UInt32: ByteBuffer] = [:]
        var classic: [UInt32: MediaFrame] = [:]
        for tag in tags where tag.type == 9 {
            let frames = try FLVTagParser.parseVideoMessage(tag.body, timestamp: tag.timestamp)
            for f in frames where f.packetType == .codedFrames {
                if f.trackId == 1 { oneTrack[tag.timestamp] = tag.body } else { classic[tag.timestamp] = f }
            }
        }
        let paired = oneTrack.keys.filter { classic[$0] != nil }.sorted().prefix(20)
        XCTAssertGreaterThan(paired.count, 10)
        for ts in paired {
            let hevc = try XCTUnwrap(try FLVTagParser.parseVideoMessage(oneTrack[ts]!, timestamp: ts).first)
            let avc = classic[ts]!
            func body(_ f: MediaFrame) -> [UInt8] {
                let cts = UInt32(bitPattern: f.compositionTimeOffset) & 0xFF_FFFF
                return [UInt8(cts >> 16), UInt8((cts >> 8) & 0xFF), UInt8(cts & 0xFF)] + Array(f.data.readableBytesView)
            }
            let header: UInt8 = 0x80 | (hevc.isKeyframe ? 0x10 : 0x20) | 6
            // ManyTracksManyCodecs (2), CodedFrames (1): per track FourCC, trackId, UI24 size, body.
            var many: [UInt8] = [header, 0x21]
            for (fourCC, id, f) in [("avc1", UInt8(0), avc), ("hvc1", UInt8(1), hevc)] {
                let b = body(f)
                many += Array(fourCC.utf8) + [id, UInt8(b.count >> 16), UInt8((b.count >> 8) & 0xFF), UInt8(b.count & 0xFF)] + b
            }
            let parsed = try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: many), timestamp: ts)
            XCTAssertEqual(parsed.map(\.trackId), [0, 1])
            XCTAssertEqual(parsed.map(\.codec), [.h264, .hevc])
            XCTAssertEqual(parsed[0].data, avc.data)
            XCTAssertEqual(parsed[1].data, hevc.data)
            XCTAssertEqual(parsed.map(\.compositionTimeOffset), [avc.compositionTimeOffset, hevc.compositionTimeOffset])
            XCTAssertEqual(parsed.map(\.isKeyframe), [hevc.isKeyframe, hevc.isKeyframe])
            // ManyTracks (1): one FourCC for both (track 1's payload twice, as tracks 1 and 2).
            var same: [UInt8] = [header, 0x11] + Array("hvc1".utf8)
            for id: UInt8 in [1, 2] {
                let b = body(hevc)
                same += [id, UInt8(b.count >> 16), UInt8((b.count >> 8) & 0xFF), UInt8(b.count & 0xFF)] + b
            }
            let two = try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: same), timestamp: ts)
            XCTAssertEqual(two.map(\.trackId), [1, 2])
            XCTAssertEqual(two.map(\.data), [hevc.data, hevc.data])
        }
    }

    func testManyTracksAudioAndTruncations() throws {
        // ManyTracks audio, CodedFrames, Opus: tracks 0 and 3.
        let bytes: [UInt8] = [0x95, 0x11] + Array("Opus".utf8) + [0, 0, 0, 2, 0xAA, 0xBB, 3, 0, 0, 1, 0xCC]
        let frames = try FLVTagParser.parseAudioMessage(ByteBuffer(bytes: bytes), timestamp: 40)
        XCTAssertEqual(frames.map(\.trackId), [0, 3])
        XCTAssertEqual(frames.map { Array($0.data.readableBytesView) }, [[0xAA, 0xBB], [0xCC]])
        XCTAssertTrue(frames.allSatisfy { $0.codec == .opus && $0.packetType == .codedFrames && $0.dts == 40 })
        // A track whose size overruns the message, a missing FourCC, a nested multitrack type,
        // an unknown multitrack type: each an error, never a trap or a partial read passed on.
        for bad: [[UInt8]] in [[[0x95, 0x11] + Array("Opus".utf8) + [0, 0, 0, 9, 0xAA]], [[0x95, 0x21, 0x4F]],
                                [[0x95, 0x15] + Array("Opus".utf8)], [[0x95, 0x31] + Array("Opus".utf8) + [0]],
                                [[0x96, 0x16] + Array("hvc1".utf8) + [0]], [[0x96, 0x01] + Array("hvc1".utf8)]] {
            XCTAssertThrowsError(try FLVTagParser.parseAudioMessage(ByteBuffer(bytes: bad[0]), timestamp: 0), "\(bad)")
            XCTAssertThrowsError(try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: bad[0]), timestamp: 0), "\(bad)")
        }
    }

    func testModExTimestampOffsetNanoIsReadAndUnknownModifiersSkipped() throws {
        // Video: ModEx (size 3 → UI8 2), 250,000 ns, then type byte: ModExType 0, packet type CodedFramesX (3).
        let video: [UInt8] = [0x97, 0x02, 0x03, 0xD0, 0x90, 0x03] + Array("av01".utf8) + [0x12, 0x34]
        let v = try XCTUnwrap(try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: video), timestamp: 10).first)
        XCTAssertEqual(v.timestampOffsetNanos, 250_000)
        XCTAssertEqual(v.codec, .av1)
        XCTAssertEqual(v.packetType, .codedFrames)
        XCTAssertTrue(v.isKeyframe)
        XCTAssertEqual(Array(v.data.readableBytesView), [0x12, 0x34])
        // Audio: an unknown modifier (type 5, 1 byte) skipped, then a nano offset, then CodedFrames.
        let audio: [UInt8] = [0x97, 0x00, 0xEE, 0x57, 0x02, 0x00, 0x01, 0xF4, 0x01] + Array("Opus".utf8) + [0x42]
        let a = try XCTUnwrap(try FLVTagParser.parseAudioMessage(ByteBuffer(bytes: audio), timestamp: 10).first)
        XCTAssertEqual(a.timestampOffsetNanos, 500)
        XCTAssertEqual(a.codec, .opus)
        XCTAssertEqual(Array(a.data.readableBytesView), [0x42])
        // The 16-bit size form (UI8 255 → UI16 + 1).
        let wide: [UInt8] = [0x97, 0xFF, 0x01, 0x00] + [UInt8](repeating: 0, count: 257) + [0x33] + Array("vp09".utf8) + [9]
        XCTAssertEqual(try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: wide), timestamp: 0).first?.codec, .vp9)
        // 1 ms or more is not a sub-millisecond offset; truncated modifiers throw.
        XCTAssertThrowsError(try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: [0x97, 0x02, 0x0F, 0x42, 0x40, 0x03] + Array("av01".utf8)), timestamp: 0))
        XCTAssertThrowsError(try FLVTagParser.parseVideoMessage(ByteBuffer(bytes: [0x97, 0x05, 0x00]), timestamp: 0))
    }

    func testMultichannelConfig() {
        XCTAssertEqual(AudioMultichannelConfig.parse(ByteBuffer(bytes: [1, 6, 0, 0, 0, 0x3F]))?.layoutName, "5.1")
        XCTAssertEqual(AudioMultichannelConfig.parse(ByteBuffer(bytes: [2, 3, 0, 1, 3])), AudioMultichannelConfig(order: .custom, channelCount: 3, speakers: ["FL", "FR", "LFE"]))
        XCTAssertEqual(AudioMultichannelConfig.parse(ByteBuffer(bytes: [2, 3, 0, 1, 3]))?.layoutName, "2.1")
        XCTAssertEqual(AudioMultichannelConfig.parse(ByteBuffer(bytes: [0, 4])), AudioMultichannelConfig(order: .unspecified, channelCount: 4, speakers: []))
        XCTAssertNil(AudioMultichannelConfig.parse(ByteBuffer(bytes: [2, 3, 0])))
        XCTAssertNil(AudioMultichannelConfig.parse(ByteBuffer(bytes: [1, 2, 0])))
        XCTAssertNil(AudioMultichannelConfig.parse(ByteBuffer(bytes: [7, 2])))
        XCTAssertEqual(AudioCodecParameters(codec: .opus, sampleRate: 48000).applying(AudioMultichannelConfig(order: .native, channelCount: 2,
                                                                                                           speakers: ["FL", "FR"])).channelLayout, "stereo")
    }

    /// Item 5: the colour an HDR10 encoder states (`VideoPacketType.Metadata`, `colorInfo`), as
    /// FFmpeg 8's muxer sends it for x265 BT.2020/PQ, agrees with what FFmpeg reads back; the
    /// connection's video parameters keep it, and it means VIDEO-RANGE PQ.
    func testHDRColourMetadataAgreesWithFFmpeg() async throws {
        let python = try await StandardWebhooksVerifier.python()
        guard try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30).exitCode == 0 else {
            throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hdr-\(UUID()).flv")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/hdr-fixture.py").path
        let run = try await ProcessRunner.run(python, [script, file.path], timeout: 120)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Int], run.stdout)
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: file)))
        var color: VideoColorInfo?
        var measured = TrackMeasurement()
        for tag in reader.tags where tag.type == 9 {
            for var frame in try FLVTagParser.parseVideoMessage(tag.body, timestamp: tag.timestamp) {
                if frame.packetType == .metadata { color = VideoColorInfo.parse(frame.data) ?? color }
                measured.measure(&frame, timestamp: tag.timestamp)
            }
        }
        let c = try XCTUnwrap(color, "a colorInfo metadata packet")
        XCTAssertEqual(c.colorPrimaries, expected["colorPrimaries"])
        XCTAssertEqual(c.transferCharacteristics, expected["transferCharacteristics"])
        XCTAssertEqual(c.matrixCoefficients, expected["matrixCoefficients"])
        XCTAssertEqual(c.videoRange, "PQ")
        XCTAssertEqual(measured.video?.color, c, "kept with the track's parameters, the sequence header's fields beside it")
        XCTAssertEqual(measured.video?.bitDepth, 10)
        // Not AMF, or AMF without colorInfo: nothing, never a trap.
        XCTAssertNil(VideoColorInfo.parse(ByteBuffer(bytes: [0x02, 0x00, 0x03, 0x61, 0x62, 0x63])))
        XCTAssertNil(VideoColorInfo.parse(ByteBuffer(bytes: [0xFF, 0x00])))
        XCTAssertEqual(VideoColorInfo(transferCharacteristics: 18).videoRange, "HLG")
        XCTAssertEqual(VideoColorInfo(transferCharacteristics: 1).videoRange, "SDR")
    }

    /// `FLVTagWriter` (the Enhanced-RTMP forwards' tag bodies): every frame of FFmpeg's file,
    /// parsed and written again — sequence starts, coded frames, each track in its form — makes
    /// a file FFmpeg 8 reads as the same streams with the same packet counts.
    func testTheTagWriterIsReadBackByFFmpegAsTheSameStreams() async throws {
        let (tags, original) = try await fixture()
        var file = ByteBuffer(bytes: Array("FLV".utf8) + [1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0])
        var written = 0
        func append(_ type: UInt8, _ timestamp: UInt32, _ body: ByteBuffer) {
            var body = body
            let size = body.readableBytes
            file.writeInteger(type)
            file.writeBytes([UInt8(size >> 16), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)])
            file.writeBytes([UInt8((timestamp >> 16) & 0xFF), UInt8((timestamp >> 8) & 0xFF), UInt8(timestamp & 0xFF), UInt8(timestamp >> 24)])
            file.writeBytes([0, 0, 0])
            file.writeBuffer(&body)
            file.writeInteger(UInt32(size + 11))
            written += 1
        }
        for tag in tags {
            if tag.type == 18 { append(18, tag.timestamp, tag.body); continue }
            guard tag.type == 8 || tag.type == 9 else { continue }
            let frames = tag.type == 9 ? try FLVTagParser.parseVideoMessage(tag.body, timestamp: tag.timestamp)
                                       : try FLVTagParser.parseAudioMessage(tag.body, timestamp: tag.timestamp)
            for frame in frames {
                let body: ByteBuffer?
                switch (frame.kind, frame.packetType) {
                case (.video, .sequenceHeader):
                    body = FLVTagWriter.videoSequenceStart(codec: frame.codec, trackId: frame.trackId, record: Array(frame.data.readableBytesView))
                case (.video, .codedFrames):
                    body = FLVTagWriter.videoFrame(codec: frame.codec, trackId: frame.trackId, keyframe: frame.isKeyframe, cts: frame.compositionTimeOffset,
                                                   data: frame.data)
                case (.audio, .sequenceHeader):
                    body = FLVTagWriter.audioSequenceStart(codec: frame.codec, trackId: frame.trackId, header: Array(frame.data.readableBytesView))
                case (.audio, .codedFrames):
                    body = FLVTagWriter.audioFrame(codec: frame.codec, trackId: frame.trackId, data: frame.data)
                default:
                    body = nil
                }
                if let body { append(tag.type, tag.timestamp, body) }
            }
        }
        XCTAssertGreaterThan(written, 200)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rewritten-\(UUID()).flv")
        defer { try? FileManager.default.removeItem(at: out) }
        try Data(file.readableBytesView).write(to: out)
        let python = try await StandardWebhooksVerifier.python()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/multitrack-fixture.py").path
        let run = try await ProcessRunner.run(python, [script, "--probe", out.path], timeout: 60)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        let json = try XCTUnwrap(run.stdout.split(separator: "\n").last { $0.hasPrefix("[") }, run.stdout)
        let reread = try JSONDecoder().decode([Stream].self, from: Data(json.utf8))
        XCTAssertEqual(reread, original, "FFmpeg reads our tags as it read its own")
    }
}
