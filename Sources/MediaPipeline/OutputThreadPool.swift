import Foundation

/// A few threads that run many outputs' batches (docs/architecture.md "Output threads").
///
/// A thread per output woke every `pause` on its own: with 40 HLS channels that is 400
/// wake-ups and context switches a second, measured as a fifth of HLS's whole cost. Here each
/// output belongs to one *lane* (a thread); a lane wakes once per `pause` and runs every one of
/// its outputs' queued batches, so wake-ups grow with the lanes, not the channels. Only outputs
/// whose work is bounded belong here — HLS writes local files; a push (which waits on its peer)
/// or a recording (whose end waits for the store) keeps a thread of its own, so one slow output
/// never holds up a lane's others for long.
///
/// A lane's thread exists only while the lane has outputs: it exits when its last output has,
/// and a lane with outputs again starts a new one. An idle gateway has no output threads.
final class OutputThreadPool: @unchecked Sendable {
    private final class Lane {
        var members: [OutputWorker] = []
        var running = false
    }

    // `lanes` and their members are guarded by `lock`.
    private let lock = NSLock()
    private let lanes: [Lane]
    private let pause: Double
    private let name: String
    /// How a lane waits between rounds (injected: tests count rounds).
    private let sleep: @Sendable (Double) -> Void

    /// `threads` lanes at most; `pause` seconds between one lane's rounds, less the round's own time.
    init(threads: Int, pause: Double, name: String, sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        lanes = (0..<max(1, threads)).map { _ in Lane() }
        self.pause = pause
        self.name = name
        self.sleep = sleep
    }

    /// Outputs on each lane now (for tests and stats).
    var laneSizes: [Int] { lock.withLock { lanes.map(\.members.count) } }

    /// Starts running `worker` on the lane with the fewest outputs.
    func add(_ worker: OutputWorker) {
        let start: Int? = lock.withLock {
            let index = lanes.indices.min { lanes[$0].members.count < lanes[$1].members.count }!
            lanes[index].members.append(worker)
            guard !lanes[index].running else { return nil }
            lanes[index].running = true
            return index
        }
        if let start {
            // Named from inside: Foundation on Linux names only the thread it runs on (a name
            // set before `start()` never reached the system, and `top -H` or `perf` showed
            // "oot.default-qos" for every lane).
            let thread = Thread { [self] in
                Thread.current.name = "\(name)-\(start)"
                run(lanes[start])
            }
            thread.start()
        }
    }

    private func run(_ lane: Lane) {
        var members: [OutputWorker] = []
        while true {
            members = lock.withLock {
                if lane.members.isEmpty { lane.running = false }
                return lane.members
            }
            guard !members.isEmpty else { return }
            let started = DispatchTime.now().uptimeNanoseconds
            var exited: [ObjectIdentifier] = []
            for worker in members where worker.runAvailable() { exited.append(ObjectIdentifier(worker)) }
            if !exited.isEmpty {
                let gone = Set(exited)
                lock.withLock { lane.members.removeAll { gone.contains(ObjectIdentifier($0)) } }
            }
            members = []
            let spent = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if pause > spent { sleep(pause - spent) }
        }
    }
}
