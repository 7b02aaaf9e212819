import NIOCore
import RTMPCore
import XCTest

final class FLVTagParserTests: XCTestCase {
    func fourCC(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testLegacyAVC() throws {
        let f = try XCTUnwrap(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0x17, 1, 0xFF, 0xFF, 0xF6, 0xAA]), timestamp: 5))
        XCTAssertEqual(f.codec, .h264)
        XCTAssertTrue(f.isKeyframe)
        XCTAssertEqual(f.packetType, .codedFrames)
        XCTAssertEqual(f.compositionTimeOffset, -10, "SI24 composition time is signed")
        XCTAssertEqual(f.data, ByteBuffer(bytes: [0xAA]))
        let inter = try XCTUnwrap(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0x27, 0, 0, 0, 0, 1]), timestamp: 5))
        XCTAssertFalse(inter.isKeyframe)
        XCTAssertEqual(inter.packetType, .sequenceHeader)
    }

    func testAFrameInPiecesParsesAsItWouldWhole() throws {
        // docs/contract.md §2 "Payloads in chunks": cut anywhere, in two or three pieces, a tag
        // gives the frame it gives whole — the header read off the first piece when it holds the
        // header, joined otherwise — and a coded frame keeps its later pieces uncopied.
        let body = (0..<40).map { UInt8($0 + 100) }
        let tags: [(bytes: [UInt8], video: Bool)] = [
            ([0x17, 1, 0, 0, 0x21] + body, true), // legacy AVC keyframe
            ([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE0, 0x00] + body, true), // AVC sequence header
            ([0x91] + fourCC("hvc1") + [0, 0, 40] + body, true), // E-RTMP HEVC coded, composition time
            ([0xA3] + fourCC("av01") + body, true), // CodedFramesX
            ([0xAF, 1] + body, false), // AAC raw
            ([0x91] + fourCC("Opus") + body, false), // E-RTMP audio coded frames
        ]
        for (bytes, video) in tags {
            let whole = ByteBuffer(bytes: bytes)
            let expected = try XCTUnwrap(video ? try FLVTagParser.parseVideo(whole, timestamp: 9) : try FLVTagParser.parseAudio(whole, timestamp: 9))
            for cut in 1..<bytes.count {
                for second in [bytes.count, min(bytes.count, cut + 7)] where second > cut {
                    var pieces = [ByteBuffer(bytes: bytes[..<cut]), ByteBuffer(bytes: bytes[cut..<second])]
                    if second < bytes.count { pieces.append(ByteBuffer(bytes: bytes[second...])) }
                    let frame = try XCTUnwrap(try FLVTagParser.parseFrame(ChunkedPayload(pieces: pieces), video: video, timestamp: 9))
                    XCTAssertEqual(frame, expected, "\(bytes.prefix(2)) cut at \(cut), \(second)")
                    XCTAssertEqual(frame.byteCount, expected.data.readableBytes)
                    if expected.packetType == .codedFrames && cut >= 8 {
                        XCTAssertFalse(frame.body.isContiguous, "a coded frame keeps its pieces (\(bytes.prefix(2)) cut at \(cut))")
                    } else if expected.packetType != .codedFrames {
                        XCTAssertTrue(frame.body.isContiguous, "what the session parses is joined")
                    }
                }
            }
        }
    }

    func testEnhancedRTMPVideoPacketTypes() throws {
        // hvc1 SequenceStart (key frame), CodedFrames with CTS, CodedFramesX, SequenceEnd, Metadata.
        let cases: [([UInt8], MediaCodec, MediaPacketType, Bool, Int32, Int)] = [
            ([0x90] + fourCC("hvc1") + [1, 2, 3], .hevc, .sequenceHeader, true, 0, 3),
            ([0x91] + fourCC("hvc1") + [0, 0, 40, 9, 9], .hevc, .codedFrames, true, 40, 2),
            ([0xA3] + fourCC("hvc1") + [9, 9], .hevc, .codedFrames, false, 0, 2),
            ([0x91] + fourCC("av01") + [7], .av1, .codedFrames, true, 0, 1),
            ([0x90] + fourCC("av01") + [0x81], .av1, .sequenceHeader, true, 0, 1),
            ([0xA1] + fourCC("vp09") + [5, 5], .vp9, .codedFrames, false, 0, 2),
            ([0x92] + fourCC("vp09"), .vp9, .sequenceEnd, true, 0, 0),
            ([0x94] + fourCC("av01") + [2, 0, 0], .av1, .metadata, true, 0, 3),
        ]
        for (bytes, codec, type, key, cts, payload) in cases {
            let f = try XCTUnwrap(try FLVTagParser.parseVideo(ByteBuffer(bytes: bytes), timestamp: 0), "\(bytes)")
            XCTAssertEqual(f.codec, codec)
            XCTAssertEqual(f.packetType, type)
            XCTAssertEqual(f.isKeyframe, key)
            XCTAssertEqual(f.compositionTimeOffset, cts)
            XCTAssertEqual(f.data.readableBytes, payload)
        }
    }

    func testCommandFramesCarryNoPicture() throws {
        XCTAssertNil(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0x57, 0]), timestamp: 0))
        XCTAssertNil(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0xD1] + fourCC("hvc1")), timestamp: 0))
    }

    func testMalformedTagsThrowInsteadOfTrapping() {
        for bytes: [UInt8] in [[], [0x17], [0x17, 1, 0], [0x90, 0x68], [0x90] + fourCC("xxxx"), [0x97] + fourCC("hvc1"), [0x1F], [0xAF], [0x90 | 0x0E]] {
            XCTAssertThrowsError(try FLVTagParser.parseVideo(ByteBuffer(bytes: bytes), timestamp: 0), "\(bytes)")
        }
        for bytes: [UInt8] in [[], [0xAF], [0x90, 0x4F], [0xF0]] {
            XCTAssertThrowsError(try FLVTagParser.parseAudio(ByteBuffer(bytes: bytes), timestamp: 0), "\(bytes)")
        }
    }

    func testAACSequenceHeaderAndEnhancedAudio() throws {
        // AudioSpecificConfig: AAC LC (2), 48 kHz (index 3), stereo → 0x11 0x90.
        let seq = try XCTUnwrap(try FLVTagParser.parseAudio(ByteBuffer(bytes: [0xAF, 0, 0x11, 0x90]), timestamp: 0))
        XCTAssertEqual(seq.packetType, .sequenceHeader)
        XCTAssertEqual(AudioCodecParameters.parse(seq), AudioCodecParameters(codec: .aac, sampleRate: 48000, channels: 2, objectType: 2))
        let opus = try XCTUnwrap(try FLVTagParser.parseAudio(ByteBuffer(bytes: [0x91] + fourCC("Opus") + [1, 2]), timestamp: 0))
        XCTAssertEqual(opus.codec, .opus)
        XCTAssertEqual(opus.packetType, .codedFrames)
        let mp3 = try XCTUnwrap(try FLVTagParser.parseAudio(ByteBuffer(bytes: [0x2F, 0xFF]), timestamp: 0))
        XCTAssertEqual(AudioCodecParameters.parse(mp3), AudioCodecParameters(codec: .mp3, sampleRate: 44100, channels: 2))
    }

    func testAVCDecoderConfigurationRecordWithSPS() throws {
        // SPS from x264: High profile, level 3.1, 1280x720 (cropped from 1280x720 in MBs: 80x45).
        let sps: [UInt8] = [0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xBB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xC0, 0xF1, 0x83, 0x19, 0x60]
        var record: [UInt8] = [0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, UInt8(sps.count)] + sps
        record += [0x01, 0x00, 0x04, 0x68, 0xEB, 0xE3, 0xCB]
        let frame = try XCTUnwrap(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0x17, 0, 0, 0, 0] + record), timestamp: 0))
        let params = try XCTUnwrap(VideoCodecParameters.parse(frame))
        XCTAssertEqual(params.codec, .h264)
        XCTAssertEqual(params.profileName, "High")
        XCTAssertEqual(params.level, 31)
        XCTAssertEqual(params.width, 1280)
        XCTAssertEqual(params.height, 720)
    }
}
