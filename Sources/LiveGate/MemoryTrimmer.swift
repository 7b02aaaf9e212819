import Foundation
#if canImport(Glibc)
import CMalloc
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Gives memory the process freed back to the system (docs/architecture.md "Memory after a
/// burst").
///
/// Why: a burst — publishers arriving together, a node falling behind and reading ahead —
/// allocates receive buffers that are all freed seconds later, but glibc keeps freed memory in
/// its arenas, so the resident size stays at the burst's peak for the rest of the process's
/// life. Measured with heaptrack at 1,000 real-time publishers: 296 MB of heap at the ramp's
/// peak (162 MB of them NIO receive buffers), 32 MB in use once they streamed, while the
/// resident size stayed at 70–130 KiB per publisher (BENCHMARKS.md "Memory after a burst").
/// Every `interval` the trimmer compares what is resident with what the heap has in use
/// (`MemoryTrimPolicy`) and, when the difference has grown enough to matter, calls
/// `malloc_trim(0)`, which returns the free pages of every arena, not only the heap's top.
struct MemoryTrimmer: Service {
    var interval: Duration = .seconds(10)
    var sample: @Sendable () -> MemorySample? = MemoryTrimmer.processSample
    var trim: @Sendable () -> Void = MemoryTrimmer.glibcTrim
    let logger: Logger
    private let policy = NIOLockedValueBox(MemoryTrimPolicy())

    init(logger: Logger) { self.logger = logger }

    init(sample: @escaping @Sendable () -> MemorySample?, trim: @escaping @Sendable () -> Void, logger: Logger) {
        self.sample = sample
        self.trim = trim
        self.logger = logger
    }

    func run() async throws {
        guard sample() != nil else { return } // not Linux with glibc: nothing to read or trim
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            tick()
        }
    }

    /// One look: trims when the policy says so. Returns whether it trimmed.
    @discardableResult
    func tick() -> Bool {
        guard let before = sample(), policy.withLockedValue({ $0.shouldTrim(before) }) else { return false }
        trim()
        if let after = sample() {
            policy.withLockedValue { $0.trimmed(after) }
            logger.debug("freed memory returned to the system", metadata: [
                "resident.before": "\(before.resident)", "resident.after": "\(after.resident)", "heap.inUse": "\(after.heapInUse)"])
        }
        return true
    }

    /// The resident size (`/proc/self/statm`) and the heap's bytes in use (glibc's `mallinfo2`:
    /// arena chunks in use plus mmap'ed ones, Sources/CMalloc).
    static let processSample: @Sendable () -> MemorySample? = {
        #if canImport(Glibc)
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return MemorySample(resident: pages * Int(sysconf(Int32(_SC_PAGESIZE))), heapInUse: Int(livegate_heap_in_use()))
        #else
        return nil
        #endif
    }

    static let glibcTrim: @Sendable () -> Void = {
        #if canImport(Glibc)
        _ = livegate_malloc_trim()
        #endif
    }
}

/// Resident bytes and heap bytes in use at one moment.
struct MemorySample: Sendable, Equatable {
    var resident: Int
    var heapInUse: Int
}

/// When freed memory is worth returning. What is resident but not heap in use is the program's
/// own pages (code, stacks: about constant) plus freed memory glibc kept. The smallest such
/// difference seen stands for the first part; what the difference has grown beyond it is kept
/// freed memory — worth a trim once it is at least `minimumRetained` bytes and at least a
/// quarter of the heap in use, so a heap that merely breathes is left alone. After a trim the
/// difference falls back; a trim cannot be asked for again until freed memory piles up anew.
struct MemoryTrimPolicy: Sendable {
    var minimumRetained = 16 * 1024 * 1024
    /// The smallest `resident - heapInUse` seen.
    private(set) var floor: Int?

    mutating func shouldTrim(_ m: MemorySample) -> Bool {
        let outside = m.resident - m.heapInUse
        floor = min(floor ?? outside, outside)
        let retained = outside - (floor ?? outside)
        return retained >= minimumRetained && retained * 4 >= m.heapInUse
    }

    /// After a trim: what is still resident beyond the heap in use is out of a trim's reach
    /// (pages partly in use), the new reference — the next trim waits for as much again.
    mutating func trimmed(_ m: MemorySample) {
        floor = m.resident - m.heapInUse
    }
}
