import Foundation
import NIOCore
@testable import RTMPCore
import TestSupport
import XCTest

/// Issue #22 item 1: every video codec measured. The streams are written by FFmpeg 8's own
/// encoders (x265, SVT-AV1, libvpx) and Enhanced-RTMP FLV muxer through PyAV
/// (`scripts/codec-fixtures.py`), and what FFmpeg reads back from each file is the answer the
/// parsers must agree with: size (after HEVC's conformance window), bit depth, chroma format
/// and profile — from HEVC's SPS inside `hvcC`, AV1's sequence header OBU inside `av1C`,
/// VP9's `vpcC` plus its first keyframe's uncompressed header; for audio the sample rate and
/// channels of AAC, Opus, FLAC, AC-3, E-AC-3 and MP3.
final class CodecParameterTests: XCTestCase {
    struct Fixtures: Decodable {
        var video: [String: Expected]
        var audio: [String: ExpectedAudio]
    }

    struct ExpectedAudio: Decodable {
        var codec: String
        var sampleRate: Int
        var channels: Int
    }

    struct Expected: Decodable {
        var codec: String
        var width: Int
        var height: Int
        var pix_fmt: String
        var bitDepth: Int
        var profile: String?
    }

    func testEveryCodecsParametersAgreeWithFFmpeg() async throws {
        let python = try await StandardWebhooksVerifier.python()
        let check = try await ProcessRunner.run(python, ["-c", "import av"], timeout: 30)
        guard check.exitCode == 0 else { throw XCTSkip("PyAV (PyPI av) is not installed: scripts/python-tools.sh installs it") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("codec-fixtures-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/codec-fixtures.py").path
        let run = try await ProcessRunner.run(python, [script, dir.path], timeout: 300)
        XCTAssertEqual(run.exitCode, 0, run.stderr.suffix(2000).description)
        let json = try XCTUnwrap(run.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, run.stdout)
        let both = try JSONDecoder().decode(Fixtures.self, from: Data(json.utf8))
        let expected = both.video
        XCTAssertEqual(expected.count, 7, "\(expected.keys)")
        XCTAssertEqual(both.audio.count, 11, "\(both.audio.keys)")
        // Audio: the sequence start where the codec has one (AAC, Opus, FLAC), else the first
        // frame (MP3's frame header, AC-3/E-AC-3's sync frame).
        for (name, want) in both.audio.sorted(by: { $0.key < $1.key }) {
            let bytes = try Data(contentsOf: dir.appendingPathComponent(name + ".flv"))
            let reader = try FLVFileReader(bytes: ByteBuffer(bytes: bytes))
            var params: AudioCodecParameters?
            for tag in reader.tags where tag.type == 8 && params == nil {
                guard let frame = try FLVTagParser.parseAudio(tag.body, timestamp: tag.timestamp) else { continue }
                if frame.packetType == .sequenceHeader || (frame.packetType == .codedFrames && [.mp3, .ac3, .eac3].contains(frame.codec)) {
                    params = AudioCodecParameters.parse(frame)
                }
            }
            let got = try XCTUnwrap(params, "\(name): nothing parsed")
            XCTAssertEqual(got.codec.rawValue, want.codec == "mp3float" ? "mp3" : want.codec, name)
            XCTAssertEqual(got.sampleRate, want.sampleRate, name)
            XCTAssertEqual(got.channels, want.channels, name)
        }
        for (name, want) in expected.sorted(by: { $0.key < $1.key }) {
            let bytes = try Data(contentsOf: dir.appendingPathComponent(name + ".flv"))
            let reader = try FLVFileReader(bytes: ByteBuffer(bytes: bytes))
            var params: VideoCodecParameters?
            for tag in reader.tags where tag.type == 9 {
                guard let frame = try FLVTagParser.parseVideo(tag.body, timestamp: tag.timestamp) else { continue }
                if frame.packetType == .sequenceHeader, params == nil { params = VideoCodecParameters.parse(frame) }
                if var known = params, known.width == nil, let size = VideoCodecParameters.keyframeSize(frame) {
                    known.width = size.width
                    known.height = size.height
                    params = known
                }
            }
            let got = try XCTUnwrap(params, "\(name): no sequence header")
            XCTAssertEqual(got.codec.rawValue, want.codec == "libdav1d" ? "av1" : want.codec, name)
            XCTAssertEqual(got.width, want.width, name)
            XCTAssertEqual(got.height, want.height, name)
            XCTAssertEqual(got.bitDepth, want.bitDepth, name)
            let chroma = want.pix_fmt.hasPrefix("yuv420") ? "4:2:0" : want.pix_fmt.hasPrefix("yuv422") ? "4:2:2" : want.pix_fmt.hasPrefix("yuv444") ? "4:4:4" : "?"
            XCTAssertEqual(got.chromaFormat, chroma, name)
            if let profile = want.profile { XCTAssertEqual(got.profileName, profile, name) }
        }
    }

    /// HEVC's conformance window in 4:2:0 is counted in chroma samples (two luma rows each):
    /// a 1920×1088 coded picture with a bottom offset of 4 is 1920×1080. Built bit by bit from
    /// H.265 §7.3.2.2, independently of any encoder.
    func testHEVCConformanceWindowIsInChromaUnits() throws {
        var bits = BitWriter()
        bits.put(0x4201, 16) // NAL header: type 33 (SPS)
        bits.put(0, 4); bits.put(0, 3); bits.put(1, 1) // vps id, max_sub_layers_minus1 = 0, temporal id nesting
        bits.put(0, 2); bits.put(0, 1); bits.put(1, 5) // profile space, tier, Main
        bits.put(0, 32); bits.put(0, 48); bits.put(93, 8) // compatibility, constraints, level 3.1
        bits.ue(0); bits.ue(1) // sps id, chroma_format_idc 4:2:0
        bits.ue(1920); bits.ue(1088)
        bits.put(1, 1); bits.ue(0); bits.ue(0); bits.ue(0); bits.ue(4) // conformance window: bottom 4
        bits.ue(2); bits.ue(2) // 10-bit
        let sps = try HEVCSPS(nalUnit: bits.bytes)
        XCTAssertEqual(sps.width, 1920)
        XCTAssertEqual(sps.height, 1080)
        XCTAssertEqual(sps.bitDepthLuma, 10)
        XCTAssertEqual(sps.levelIDC, 93)
        // Cut anywhere, it fails cleanly.
        for n in 0..<bits.bytes.count - 1 { XCTAssertThrowsError(try HEVCSPS(nalUnit: bits.bytes.prefix(n)), "\(n)") }
    }

    /// Malformed or hostile records never trap: every prefix and random bytes are refused or read.
    func testParsersSurviveTruncatedAndRandomRecords() {
        var generator = SystemRandomNumberGenerator()
        for codec in [MediaCodec.hevc, .av1, .vp9] {
            for _ in 0..<2000 {
                let count = Int.random(in: 0..<64, using: &generator)
                var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if !bytes.isEmpty, Bool.random() { bytes[0] = codec == .av1 ? 0x81 : 1 }
                let frame = MediaFrame(kind: .video, codec: codec, packetType: .sequenceHeader, isKeyframe: true, dts: 0, data: ByteBuffer(bytes: bytes))
                _ = VideoCodecParameters.parse(frame)
                let key = MediaFrame(kind: .video, codec: codec, packetType: .codedFrames, isKeyframe: true, dts: 0, data: ByteBuffer(bytes: bytes))
                _ = VideoCodecParameters.keyframeSize(key)
            }
        }
        for codec in [MediaCodec.aac, .opus, .flac, .mp3, .ac3, .eac3] {
            for _ in 0..<2000 {
                var bytes = (0..<Int.random(in: 0..<48, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if bytes.count >= 2, Bool.random() { (bytes[0], bytes[1]) = codec == .mp3 ? (0xFF, 0xFB) : (0x0B, 0x77) }
                for type in [MediaPacketType.sequenceHeader, .codedFrames] {
                    _ = AudioCodecParameters.parse(MediaFrame(kind: .audio, codec: codec, packetType: type, isKeyframe: false, dts: 0, data: ByteBuffer(bytes: bytes)))
                }
            }
        }
    }
}

/// Writes bits MSB-first, with Exp-Golomb, to build parameter sets in tests.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var used = 0

    mutating func put(_ value: UInt64, _ count: Int) {
        for i in stride(from: count - 1, through: 0, by: -1) {
            if used % 8 == 0 { bytes.append(0) }
            if (value >> UInt64(i)) & 1 == 1 { bytes[bytes.count - 1] |= 0x80 >> UInt8(used % 8) }
            used += 1
        }
    }

    mutating func ue(_ value: UInt64) {
        let v = value + 1
        let length = 64 - v.leadingZeroBitCount
        put(0, length - 1)
        put(v, length)
    }
}
