import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one thread a SQLite connection's work runs on, as a Swift `TaskExecutor`.
///
/// Why a thread of its own (docs/architecture.md "The store"): a write transaction is several
/// statements, and a publisher waits for the one that starts its session. Each statement handed
/// to a thread pool and answered through an event loop cost three wake-ups; under load the
/// session transaction took 1.9 ms at the median and 15 ms at p99, most of it waiting for those
/// hops. With the whole transaction run under `withTaskExecutorPreference(thread)` every
/// statement runs inline, synchronously, on this thread (`SQLiteDatabase` sees it is already
/// here): one hop in, one hop out, whatever the number of statements.
///
/// The jobs run in the order they came; a job blocks the thread while SQLite works (a
/// `busy_timeout` wait included), which is what a connection that does one thing at a time wants
/// and keeps that wait off Swift's shared cooperative threads.
public final class SQLiteThread: TaskExecutor, @unchecked Sendable {
    /// What the thread itself holds: it outlives a `SQLiteThread` dropped without `shutdown`
    /// just long enough to drain and end (`deinit` asks it to).
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        // Guarded by `condition`.
        var jobs: [UnownedJob] = []
        var stopping = false
        var stopped = false
        var threadID: pthread_t?
        /// The `SQLiteThread` the jobs run on, set before any job can arrive. Unowned like every
        /// executor reference the runtime keeps: a task that prefers this executor holds it
        /// strongly for as long as it can enqueue here.
        var executor: UnownedTaskExecutor?
    }

    private let queue = Queue()
    /// Written before `init` returns, read-only afterwards.
    private let threadID: pthread_t

    public init(name: String) {
        let queue = self.queue
        let thread = Thread {
            // The name `top -H` and /proc show (15 bytes at most).
            Thread.current.name = String(name.prefix(15))
            SQLiteThread.loop(queue)
        }
        thread.start()
        queue.condition.lock()
        while queue.threadID == nil { queue.condition.wait() }
        threadID = queue.threadID!
        queue.condition.unlock()
        queue.executor = asUnownedTaskExecutor()
    }

    deinit { shutdown() }

    /// True on this executor's thread: a statement asked for here runs at once, no hop.
    public var isCurrent: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    public func enqueue(_ job: consuming ExecutorJob) {
        queue.condition.lock()
        if queue.stopped {
            queue.condition.unlock()
            // After `shutdown` (the store closed): run it anywhere rather than never — a
            // statement then meets a closed connection and fails with that reason.
            globalConcurrentExecutor.enqueue(job)
            return
        }
        queue.jobs.append(UnownedJob(job))
        queue.condition.signal()
        queue.condition.unlock()
    }

    /// Ends the thread once the jobs already queued have run.
    public func shutdown() {
        queue.condition.lock()
        queue.stopping = true
        queue.condition.signal()
        queue.condition.unlock()
    }

    private static func loop(_ queue: Queue) {
        queue.condition.lock()
        queue.threadID = pthread_self()
        queue.condition.broadcast()
        var batch: [UnownedJob] = []
        while true {
            while queue.jobs.isEmpty && !queue.stopping { queue.condition.wait() }
            if queue.jobs.isEmpty && queue.stopping {
                queue.stopped = true
                queue.condition.unlock()
                return
            }
            // Every queued job at once: one lock per wake-up, not one per job.
            swap(&batch, &queue.jobs)
            queue.condition.unlock()
            let executor = queue.executor!
            for job in batch { job.runSynchronously(on: executor) }
            batch.removeAll(keepingCapacity: true)
            queue.condition.lock()
        }
    }
}
