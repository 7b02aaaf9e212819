import Foundation
import RTMPCore
import RTMPFuzzHarness
import XCTest

/// Every input the fuzzer ever crashed on (and the seed corpus) is replayed through the same
/// `FuzzHarness` the fuzzer uses. A crash here is a crash in production.
final class FuzzRegressionTests: XCTestCase {
    func testRegressionInputsAndSeedsReplayWithoutCrashing() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var count = 0
        for dir in ["Tests/RTMPCoreTests/Fixtures/fuzz-regressions", "fuzz/corpus"] {
            let url = root.appendingPathComponent(dir)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [] where !name.hasPrefix(".") {
                let data = try Data(contentsOf: url.appendingPathComponent(name))
                FuzzHarness.run(Array(data))
                count += 1
            }
        }
        // The recorded client streams through every mode.
        for fixtureName in ["ffmpeg-publish.bin", "gstreamer-rtmp2sink-publish.bin"] {
            let bytes = Array(try fixture(fixtureName).readableBytesView)
            for mode: UInt8 in 0...3 {
                FuzzHarness.run([mode, 17] + bytes)
                count += 1
            }
        }
        XCTAssertGreaterThan(count, 8)
    }

    /// Truncations of a real stream at every 97th byte: each prefix must parse or stop cleanly.
    func testEveryPrefixOfARealStreamIsHandled() throws {
        let bytes = Array(try fixture("ffmpeg-publish.bin").readableBytesView)
        for end in stride(from: 0, to: bytes.count, by: 97) {
            FuzzHarness.run([0, 3] + bytes[0..<end])
        }
    }
}
