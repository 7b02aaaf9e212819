import Foundation
import Logging
import NIOCore
import NIOConcurrencyHelpers

/// Runs one output off the event loops, so libavformat's blocking calls (file writes, a push
/// target's TCP send) never run on an event loop and never hold up ingest or the API. Ingest
/// hands packets over through a bounded `OutputQueue`. A forward or a recording has a thread of
/// its own (a push blocks on its peer; a recording's end waits for the store); HLS outputs share
/// the few threads of an `OutputThreadPool` (docs/architecture.md "Output threads").
///
/// Every output waits for a video keyframe before it opens, so each segment, file or push
/// starts decodable. A local output that fails skips the rest of its segment; a forward
/// reconnects with exponential backoff and reports repeated failure once per failure streak.
final class OutputWorker: Sendable {
    struct RetryPolicy: Sendable {
        var initialDelay: Double = 1
        var maxDelay: Double = 30
        /// Consecutive failed attempts after which `onRepeatedFailure` fires (docs/contract.md §5 `forward.failed`).
        var failureThreshold: Int = 3
        /// Packets written after which a connection counts as healthy again.
        var healthyAfterPackets: Int = 100

        func delay(afterFailures n: Int) -> Double { min(maxDelay, initialDelay * pow(2, Double(max(0, n - 1)))) }
    }

    /// The writer is touched only by the worker's thread.
    private final class WriterBox: @unchecked Sendable {
        let writer: any MediaWriter
        init(_ writer: any MediaWriter) { self.writer = writer }
    }

    let kind: OutputKind
    let id: String?
    let interrupt: InterruptFlag
    private let queue: OutputQueue
    private let box: WriterBox
    private let status: NIOLockedValueBox<OutputStatus>
    private let retry: RetryPolicy?
    private let logger: Logger
    private let onRepeatedFailure: @Sendable (_ error: String, _ attempts: Int) -> Void
    private let onExit: @Sendable (OutputWorker) -> Void
    private let exited = NIOLockedValueBox(false)
    private let scheduling: Scheduling
    /// The output's state between batches, touched by one thread at a time (its own, or the
    /// pool thread running it).
    private let runner: Runner

    /// Where the output's batches run.
    enum Scheduling: Sendable {
        /// A thread of its own that pauses after each batch so packets accumulate: one wake-up
        /// per ~`batchPause` instead of one per packet (a futex wake and context switch each).
        case ownThread(batchPause: Double)
        /// One of the pool's threads, with the pool's other outputs.
        case pool(OutputThreadPool)
    }

    init(kind: OutputKind, id: String? = nil, writer: any MediaWriter, interrupt: InterruptFlag, queue: OutputQueue, retry: RetryPolicy?,
         scheduling: Scheduling = .ownThread(batchPause: 0), logger: Logger, onRepeatedFailure: @escaping @Sendable (String, Int) -> Void = { _, _ in },
         onExit: @escaping @Sendable (OutputWorker) -> Void = { _ in }) {
        self.kind = kind
        self.id = id
        self.box = WriterBox(writer)
        self.interrupt = interrupt
        self.queue = queue
        self.retry = retry
        self.logger = logger
        self.onRepeatedFailure = onRepeatedFailure
        self.onExit = onExit
        self.scheduling = scheduling
        status = NIOLockedValueBox(OutputStatus(kind: kind, id: id, state: .starting, droppedPackets: 0, packetsWritten: 0, attempts: 0))
        runner = Runner()
    }

    func start() {
        switch scheduling {
        case .ownThread(let batchPause):
            let thread = Thread { [self] in
                // From inside: Foundation on Linux names only the calling thread.
                Thread.current.name = "livegate-\(kind.rawValue)"
                while true {
                    if batchPause > 0 { Thread.sleep(forTimeInterval: batchPause) }
                    queue.takeAll(into: &runner.batch)
                    if process() { return }
                }
            }
            thread.start()
        case .pool(let pool):
            pool.add(self)
        }
    }

    /// Pool side: runs what is queued, without waiting. True once the output has exited.
    func runAvailable() -> Bool {
        guard queue.takeAvailable(into: &runner.batch) else { return false }
        return process()
    }

    /// Event-loop side; never blocks.
    func send(_ item: OutputItem) { queue.push(item) }

    /// Finish cleanly; an output still blocked in I/O after `abortAfter` seconds is interrupted.
    func end(abortAfter seconds: Double?) {
        queue.push(.end)
        if let seconds { interrupt.abort(afterMicroseconds: Int64(seconds * 1_000_000)) }
    }

    var currentStatus: OutputStatus {
        var s = status.withLockedValue { $0 }
        s.droppedPackets = queue.dropped
        return s
    }

    var hasExited: Bool { exited.withLockedValue { $0 } }

    private func update(_ body: (inout OutputStatus) -> Void) { status.withLockedValue(body) }

    /// What `process` keeps between batches.
    private final class Runner: @unchecked Sendable {
        var batch = CircularBuffer<OutputItem>(initialCapacity: 64)
        var layout: StreamLayout?
        var isOpen = false
        var segmentFailed = false
        var retryAt: Date?
        var failures = 0
        var writtenSinceOpen = 0
        /// After (re)opening, nothing is written until a video keyframe (a decodable start).
        var awaitingKeyframe = true
        /// The writer's `malformedPackets` already logged.
        var malformedSeen = 0
    }

    /// Runs the batch taken into `runner.batch`; true once the output has finished and exited.
    private func process() -> Bool {
        let writer = box.writer
        let r = runner
        var packetsWritten = 0
        defer { if packetsWritten > 0 { update { $0.packetsWritten += packetsWritten } } }

        func fail(_ error: AVFailure) {
            writer.abort()
            r.isOpen = false
            update { $0.lastError = error.description }
            if let retry {
                r.failures += 1
                let delay = retry.delay(afterFailures: r.failures)
                r.retryAt = Date().addingTimeInterval(delay)
                update { $0.state = .reconnecting }
                logger.warning("output failed; retrying", metadata: ["output": "\(kind.rawValue)", "error": "\(error)",
                                                                    "retry.sec": "\(delay)", "failures": "\(r.failures)"])
                if r.failures == retry.failureThreshold { onRepeatedFailure(error.description, r.failures) }
            } else {
                r.segmentFailed = true
                update { $0.state = .failed }
                logger.error("output failed; skipping the rest of this segment", metadata: ["output": "\(kind.rawValue)", "error": "\(error)"])
            }
        }

        while let item = r.batch.popFirst() {
            switch item {
            case .resume(let sameLayout) where writer.resumesInPlace && sameLayout == r.layout:
                // The session's next connection: continue the open file or push from its next keyframe.
                r.awaitingKeyframe = sameLayout.hasVideo
            case .begin(let newLayout), .resume(let newLayout):
                if r.isOpen {
                    do throws(AVFailure) { try writer.finish() } catch {
                        logger.warning("output segment did not finish cleanly", metadata: ["output": "\(kind.rawValue)", "error": "\(error)"])
                    }
                    r.isOpen = false
                }
                r.layout = newLayout
                r.segmentFailed = false
                r.awaitingKeyframe = newLayout.hasVideo
                update { if $0.state != .reconnecting { $0.state = .starting } }
            case .packet(let packet):
                guard let layout = r.layout, !r.segmentFailed else {
                    queue.countDropped(1)
                    continue
                }
                if !r.isOpen {
                    if let at = r.retryAt, Date() < at {
                        queue.countDropped(1)
                        continue
                    }
                    // Connect as soon as allowed (a push target is ready by the next keyframe).
                    update { $0.attempts += 1 }
                    do throws(AVFailure) {
                        try writer.open(layout)
                        r.isOpen = true
                        r.retryAt = nil
                        r.writtenSinceOpen = 0
                        r.awaitingKeyframe = layout.hasVideo
                        let notCarried = writer.notCarried
                        update { status in
                            if status.notCarried != notCarried, !notCarried.isEmpty {
                                logger.warning("output does not carry every track", metadata: ["output": "\(kind.rawValue)",
                                                                                              "not.carried": "\(notCarried.joined(separator: "; "))"])
                            }
                            status.notCarried = notCarried
                            status.state = .running
                        }
                    } catch {
                        fail(error)
                        queue.countDropped(1)
                        continue
                    }
                }
                // Every segment, file and push starts on a keyframe of the default video track
                // (index 0: the layout puts video first, lowest track id first).
                if r.awaitingKeyframe {
                    guard packet.kind == .video && packet.track == 0 && packet.isKeyframe else { continue }
                    r.awaitingKeyframe = false
                }
                do throws(AVFailure) {
                    try writer.write(packet)
                    // A packet the writer refused as malformed is a dropped one, and said (the
                    // first, then every thousandth: a broken publisher must not flood the log).
                    let malformed = writer.malformedPackets
                    if malformed != r.malformedSeen {
                        r.malformedSeen = malformed
                        queue.countDropped(1)
                        if malformed % 1000 == 1 {
                            logger.warning("packet not written: malformed payload", metadata: ["output": "\(kind.rawValue)", "malformed": "\(malformed)"])
                        }
                        continue
                    }
                    r.writtenSinceOpen += 1
                    if let retry, r.failures > 0, r.writtenSinceOpen >= retry.healthyAfterPackets { r.failures = 0 }
                    packetsWritten += 1
                } catch {
                    fail(error)
                }
            case .end:
                if r.isOpen {
                    do throws(AVFailure) { try writer.finish() } catch {
                        logger.warning("output did not finish cleanly", metadata: ["output": "\(kind.rawValue)", "error": "\(error)"])
                        update { $0.lastError = error.description }
                    }
                }
                writer.close()
                update {
                    $0.packetsWritten += packetsWritten
                    $0.state = .finished
                }
                packetsWritten = 0
                exited.withLockedValue { $0 = true }
                onExit(self)
                return true
            }
        }
        return false
    }
}
