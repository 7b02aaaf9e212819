import Foundation
import Logging
@testable import MediaPipeline
import NIOConcurrencyHelpers
import NIOCore
import XCTest

/// `OutputThreadPool` (docs/architecture.md "Output threads"): one lane's wake-up runs every
/// one of its outputs' batches, outputs spread over the lanes, each output's items stay in
/// order, and a lane's thread exists only while it has outputs.
final class OutputThreadPoolTests: XCTestCase {
    /// Records what the worker asked of it.
    final class RecordingWriter: MediaWriter, @unchecked Sendable {
        let calls = NIOLockedValueBox<[String]>([])
        func open(_ layout: StreamLayout) throws(AVFailure) { calls.withLockedValue { $0.append("open") } }
        func write(_ packet: MediaPacket) throws(AVFailure) { calls.withLockedValue { $0.append("write \(packet.dts)") } }
        func finish() throws(AVFailure) { calls.withLockedValue { $0.append("finish") } }
        func abort() { calls.withLockedValue { $0.append("abort") } }
        func close() { calls.withLockedValue { $0.append("close") } }
    }

    /// The lanes' pause, run by the test: each `release()` lets every waiting lane through one round.
    final class Rounds: @unchecked Sendable {
        let gate = DispatchSemaphore(value: 0)
        let waits = NIOLockedValueBox(0)
        func sleep(_: Double) {
            waits.withLockedValue { $0 += 1 }
            gate.wait()
        }
        func release(_ n: Int = 1) { for _ in 0..<n { gate.signal() } }
    }

    let layout = StreamLayout(tracks: [TrackFormat(kind: .video, codec: .h264, extradata: [1])])

    func packet(_ dts: Int64, key: Bool = false) -> OutputItem {
        .packet(MediaPacket(kind: .video, track: 0, dts: dts, pts: dts, isKeyframe: key, data: ByteBuffer(bytes: [0, 0, 0, 1])))
    }

    func worker(_ writer: RecordingWriter, _ pool: OutputThreadPool) -> OutputWorker {
        OutputWorker(kind: .hls, writer: writer, interrupt: InterruptFlag(), queue: OutputQueue(maxPackets: 100, maxBytes: 1 << 20), retry: nil,
                     scheduling: .pool(pool), logger: Logger(label: "test"))
    }

    func waitUntil(_ what: String, timeout: Double = 10, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                XCTFail("not reached in \(timeout) s: \(what)")
                throw CancellationError()
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    func testOneWakeUpOfALaneRunsEveryOneOfItsOutputs() throws {
        let rounds = Rounds()
        let pool = OutputThreadPool(threads: 1, pause: 0.1, name: "test-pool", sleep: rounds.sleep)
        let writers = (0..<20).map { _ in RecordingWriter() }
        let workers = writers.map { worker($0, pool) }
        for w in workers {
            w.send(.begin(layout))
            w.send(packet(0, key: true))
            w.start()
        }
        XCTAssertEqual(pool.laneSizes, [20])
        // The lane's first round (it runs before its first pause) may find some queues before the
        // others were filled; after one more pause, every output has written what it was sent.
        try waitUntil("the lane's first pause") { rounds.waits.withLockedValue { $0 } == 1 }
        rounds.release()
        try waitUntil("the lane's second pause") { rounds.waits.withLockedValue { $0 } == 2 }
        for (i, writer) in writers.enumerated() {
            XCTAssertEqual(writer.calls.withLockedValue { $0 }, ["open", "write 0"], "output \(i) after one wake-up")
        }
        // Now one item each, one wake-up: all 20 written in that one round.
        for w in workers { w.send(packet(40)) }
        rounds.release()
        try waitUntil("the third pause") { rounds.waits.withLockedValue { $0 } == 3 }
        XCTAssertEqual(writers.filter { $0.calls.withLockedValue { $0.last } == "write 40" }.count, 20,
                       "one wake-up of the lane ran all twenty outputs' batches")
        for w in workers { w.end(abortAfter: nil) }
        rounds.release()
        try waitUntil("every output exited") { workers.allSatisfy(\.hasExited) }
        for writer in writers { XCTAssertEqual(writer.calls.withLockedValue { $0 }, ["open", "write 0", "write 40", "finish", "close"]) }
        XCTAssertEqual(pool.laneSizes, [0])
        for w in workers { XCTAssertEqual(w.currentStatus.packetsWritten, 2) }
        // The lane's thread is gone: no further rounds, however long one waits.
        rounds.release(5)
        let waits = rounds.waits.withLockedValue { $0 }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(rounds.waits.withLockedValue { $0 }, waits, "a lane without outputs does not run")
    }

    func testOutputsSpreadOverTheLanesKeepTheirOrderAndALaneComesBack() throws {
        let pool = OutputThreadPool(threads: 3, pause: 0.002, name: "test-pool")
        for round in 0..<2 {
            let writers = (0..<9).map { _ in RecordingWriter() }
            let workers = writers.map { worker($0, pool) }
            for w in workers { w.start() }
            XCTAssertEqual(pool.laneSizes, [3, 3, 3], "round \(round): the fewest outputs first")
            for w in workers { w.send(.begin(layout)) }
            for dts in stride(from: Int64(0), to: 2000, by: 40) {
                for w in workers { w.send(packet(dts, key: dts % 400 == 0)) }
            }
            for w in workers { w.end(abortAfter: nil) }
            try waitUntil("round \(round): every output exited") { workers.allSatisfy(\.hasExited) }
            let expected = ["open"] + stride(from: Int64(0), to: 2000, by: 40).map { "write \($0)" } + ["finish", "close"]
            for writer in writers { XCTAssertEqual(writer.calls.withLockedValue { $0 }, expected, "round \(round)") }
            try waitUntil("round \(round): the lanes emptied") { pool.laneSizes == [0, 0, 0] }
        }
    }
}
