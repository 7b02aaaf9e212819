import NIOCore
@testable import MediaPipeline
import RTMPCore
import XCTest

/// The multivariant playlist's attributes (RFC 8216 §4.3.4.2, RFC 6381 codec strings), from the
/// configuration records as encoders send them.
final class HLSMasterPlaylistTests: XCTestCase {
    func testCodecStringsFromConfigurationRecords() {
        // AVCDecoderConfigurationRecord: High (0x64), constraints 0x00, level 3.1 (0x1F).
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .video, codec: .h264, extradata: [1, 0x64, 0x00, 0x1F, 0xFF])), "avc1.64001f")
        // hvcC, Main profile (1), general_profile_compatibility_flags 0x60000000 (bits 1 and 2),
        // constraint byte 0xB0, Main tier level 93: ISO/IEC 14496-15 Annex E's own example, hvc1.1.6.L93.B0.
        let hvcC: [UInt8] = [1, 0x01, 0x60, 0x00, 0x00, 0x00, 0xB0, 0, 0, 0, 0, 0, 93, 0xF0, 0x00]
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .video, codec: .hevc, extradata: hvcC)), "hvc1.1.6.L93.B0")
        // av1C: profile 0, level 8 (4.0), Main tier, 8-bit → av01.0.08M.08; 10-bit high → .10.
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .video, codec: .av1, extradata: [0x81, 0x08, 0x0C, 0x00])), "av01.0.08M.08")
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .video, codec: .av1, extradata: [0x81, 0x08, 0x4C, 0x00])), "av01.0.08M.10")
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .video, codec: .vp9, extradata: [], profile: 0, level: 31, bitDepth: 8)), "vp09.00.31.08")
        // AudioSpecificConfig: AAC LC (2), HE-AAC (5).
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .audio, codec: .aac, extradata: [0x12, 0x10])), "mp4a.40.2")
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .audio, codec: .aac, extradata: [0x2B, 0x92, 0x08, 0x00])), "mp4a.40.5")
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .audio, codec: .opus, extradata: [])), "opus")
        XCTAssertEqual(CodecString.of(TrackFormat(kind: .audio, codec: .eac3, extradata: [])), "ec-3")
    }

    func testAVariantPerVideoTrackWithTheAudioGroup() {
        let master = HLSMasterPlaylist(variants: [
            .init(uri: "v0.m3u8", bandwidth: 3_200_000, averageBandwidth: 2_900_000, width: 1280, height: 720, frameRate: 30,
                  codecs: ["hvc1.1.6.L93.B0", "mp4a.40.2"], videoRange: "PQ"),
            .init(uri: "v1.m3u8", bandwidth: 900_000, averageBandwidth: nil, width: 640, height: 360, frameRate: 29.97, codecs: ["avc1.64001f", "mp4a.40.2"],
                  videoRange: nil),
        ], audio: [.init(uri: "a0.m3u8", name: "audio 0", language: "en", channels: 2, isDefault: true)], version: 7)
        let lines = master.render().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.prefix(3), ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"])
        XCTAssertEqual(lines[3], #"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio 0",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a0.m3u8""#)
        XCTAssertEqual(lines[4], #"#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=2900000,CODECS="hvc1.1.6.L93.B0,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,VIDEO-RANGE=PQ,AUDIO="audio""#)
        XCTAssertEqual(lines[5], "v0.m3u8")
        XCTAssertTrue(lines[6].contains("FRAME-RATE=29.970") && !lines[6].contains("VIDEO-RANGE"), lines[6])
        XCTAssertEqual(lines[7], "v1.m3u8")
    }
}
