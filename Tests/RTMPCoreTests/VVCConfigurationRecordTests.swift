import NIOCore
@testable import RTMPCore
import XCTest

/// Issue #22 item 1, VVC (parse only: no VVC encoder is available here, so the records are built
/// bit by bit from the syntax of ISO/IEC 14496-15 §11.2.4.2, `VvcDecoderConfigurationRecord`
/// and `VvcPTLRecord`, with a writer of the test's own).
final class VVCConfigurationRecordTests: XCTestCase {
    struct Bits {
        var bytes: [UInt8] = []
        var count = 0
        mutating func put(_ value: UInt64, _ n: Int) {
            for i in stride(from: n - 1, through: 0, by: -1) {
                if count % 8 == 0 { bytes.append(0) }
                if (value >> UInt64(i)) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(0x80 >> (count % 8)) }
                count += 1
            }
        }
    }

    /// A record as §11.2.4.2 lays it out.
    static func record(sublayers: Int, chroma: Int, bitDepth: Int, profile: Int, tier: Int, level: Int, constraintBytes: Int,
                       sublayerLevels: [Int?], subProfiles: [UInt32], width: Int, height: Int, fps256: Int) -> [UInt8] {
        var b = Bits()
        b.put(0x1F, 5); b.put(3, 2); b.put(1, 1)                  // reserved, LengthSizeMinusOne = 3, ptl_present_flag
        b.put(0, 9); b.put(UInt64(sublayers), 3); b.put(0, 2)     // ols_idx, num_sublayers, constant_frame_rate
        b.put(UInt64(chroma), 2); b.put(UInt64(bitDepth - 8), 3); b.put(0x1F, 5)
        b.put(0, 2); b.put(UInt64(constraintBytes), 6)             // VvcPTLRecord
        b.put(UInt64(profile), 7); b.put(UInt64(tier), 1); b.put(UInt64(level), 8)
        b.put(1, 1); b.put(0, 1)                                   // ptl_frame_only_constraint_flag, ptl_multi_layer_enabled_flag
        b.put(0, constraintBytes * 8 - 2)                           // general_constraint_info
        for i in stride(from: sublayers - 2, through: 0, by: -1) { b.put(sublayerLevels[i] == nil ? 0 : 1, 1) }
        if sublayers > 1 { for _ in sublayers...8 { b.put(0, 1) } }
        for i in stride(from: sublayers - 2, through: 0, by: -1) { if let l = sublayerLevels[i] { b.put(UInt64(l), 8) } }
        b.put(UInt64(subProfiles.count), 8)
        for p in subProfiles { b.put(UInt64(p), 32) }
        b.put(UInt64(width), 16); b.put(UInt64(height), 16); b.put(UInt64(fps256), 16)
        b.put(0, 8) // num_of_arrays (the parameter sets are not needed here)
        return b.bytes
    }

    func parse(_ record: [UInt8]) throws -> VideoCodecParameters {
        let frame = try XCTUnwrap(try FLVTagParser.parseVideo(ByteBuffer(bytes: [0x90] + Array("vvc1".utf8) + record), timestamp: 0))
        XCTAssertEqual(frame.codec, .vvc)
        return try XCTUnwrap(VideoCodecParameters.parse(frame))
    }

    func testAMain10UHDRecord() throws {
        let p = try parse(Self.record(sublayers: 1, chroma: 1, bitDepth: 10, profile: 1, tier: 0, level: 83, constraintBytes: 1,
                                      sublayerLevels: [], subProfiles: [], width: 3840, height: 2160, fps256: 60 * 256))
        XCTAssertEqual(p.width, 3840)
        XCTAssertEqual(p.height, 2160)
        XCTAssertEqual(p.bitDepth, 10)
        XCTAssertEqual(p.chromaFormat, "4:2:0")
        XCTAssertEqual(p.profile, 1)
        XCTAssertEqual(p.profileName, "Main 10")
        XCTAssertEqual(p.level, 83)
        XCTAssertEqual(p.frameRate, 60)
    }

    /// Sub-layer levels, sub-profiles and a longer constraint field are skipped by their sizes.
    func testSublayersSubProfilesAndConstraintsAreSkippedExactly() throws {
        let p = try parse(Self.record(sublayers: 3, chroma: 3, bitDepth: 12, profile: 34, tier: 1, level: 102, constraintBytes: 9,
                                      sublayerLevels: [51, nil], subProfiles: [0xDEADBEEF, 7], width: 1920, height: 1080, fps256: 0))
        XCTAssertEqual(p.width, 1920)
        XCTAssertEqual(p.height, 1080)
        XCTAssertEqual(p.chromaFormat, "4:4:4")
        XCTAssertEqual(p.bitDepth, 12)
        XCTAssertEqual(p.level, 102)
        XCTAssertNil(p.frameRate, "0 = unspecified")
    }

    func testTruncatedAndPTLLessRecordsGiveNoSize() throws {
        let whole = Self.record(sublayers: 2, chroma: 1, bitDepth: 8, profile: 1, tier: 0, level: 51, constraintBytes: 2,
                                sublayerLevels: [32], subProfiles: [1], width: 640, height: 360, fps256: 30 * 256)
        XCTAssertEqual(try parse(whole).width, 640)
        for cut in 1..<(whole.count - 1) {
            XCTAssertNil(VVCConfigurationRecord(Array(whole.prefix(cut))), "cut at \(cut)")
        }
        // ptl_present_flag 0: only the codec is known.
        let bare = try parse([0xFE, 0x00])
        XCTAssertNil(bare.width)
        XCTAssertEqual(bare.codec, .vvc)
        // 2,000 random records never trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...48, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = VVCConfigurationRecord(bytes)
        }
    }
}
