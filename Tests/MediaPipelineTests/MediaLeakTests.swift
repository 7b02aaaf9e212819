import Foundation
import CFFmpeg
import Logging
@testable import MediaPipeline
import NIOCore
import RTMPCore
import TestSupport
import XCTest

/// Nothing leaks per output: libav contexts, packets, extradata and our own owners are freed on
/// every path (clean finish, layout change, failed connect). Measured in-process with the C
/// heap's own counters, so it runs in every test pass; for a valgrind run, see README
/// ("Checking the media pipeline for leaks"), which sets LIVEGATE_LEAKCHECK_CLIP because a
/// process under valgrind cannot spawn ffmpeg.
final class MediaLeakTests: XCTestCase {
    func heapInUse() -> Int { Int(lg_heap_bytes_in_use()) }

    func testRepeatedSessionsDoNotGrowTheHeap() async throws {
        let dir = try MediaTools.temporaryDirectory("leak")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clipPath = try await {
            if let preset = ProcessInfo.processInfo.environment["LIVEGATE_LEAKCHECK_CLIP"] { return preset }
            return try await MediaTools.makeClip(seconds: 2, in: dir).path
        }()
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: clipPath))))
        let frames = try reader.tags.compactMap { tag -> MediaFrame? in
            tag.type == 9 ? try FLVTagParser.parseVideo(tag.body, timestamp: tag.timestamp)
                : tag.type == 8 ? try FLVTagParser.parseAudio(tag.body, timestamp: tag.timestamp) : nil
        }
        var settings = MediaHub.Settings(dataDirectory: dir.appendingPathComponent("data").path)
        settings.forwardRetryInitialSeconds = 0
        settings.forwardTimeoutSeconds = 1
        let hub = MediaHub(settings: settings, logger: Logger(label: "leak", factory: { _ in SwiftLogNoOpLogHandler() }), onEvent: { _ in })

        func session(_ n: UInt64) async {
            hub.sessionStarted(connectionID: n)
            hub.configure(connectionID: n, plan: OutputPlan(channelId: "leak\(n % 3)", userId: "u", sessionId: "s\(n)", hls: true, record: true,
                                                           forwards: [.init(id: "f", url: "rtmp://127.0.0.1:9/live/k")]))
            for f in frames { hub.media(f, connectionID: n) }
            hub.sessionEnded(connectionID: n)
            _ = await hub.drain(timeout: .seconds(20))
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("data/recordings"))
        }
        for n in 0..<3 { await session(UInt64(n)) } // warm-up: caches, thread pools, libav's one-time tables
        let before = heapInUse()
        let rounds = 12
        for n in 3..<(3 + rounds) { await session(UInt64(n)) }
        let growth = heapInUse() - before
        print("heap growth over \(rounds) sessions (HLS + MP4 + failing forward, \(frames.count) frames each): \(growth) bytes")
        // One leaked packet set per session would be ~100 KiB; one leaked context several KiB.
        XCTAssertLessThan(growth, 256 * 1024, "heap grew by \(growth) bytes over \(rounds) sessions")
    }
}
