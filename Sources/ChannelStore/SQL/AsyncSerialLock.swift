import LiveGateModel
/// An async mutex with two queues. SQLite is one writing connection: every write goes through
/// this so a transaction never interleaves with another's statements. Waiters marked
/// `urgent` — a publisher waiting for its `Publish.Start` — go before the background writes
/// (webhook delivery bookkeeping, session counters) that otherwise queue ahead of them under
/// load; FIFO within each queue.
actor AsyncSerialLock {
    private var locked = false
    private var urgentWaiters: [CheckedContinuation<Void, Never>] = []
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock(urgent: Bool = false) async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { continuation in
            if urgent { urgentWaiters.append(continuation) } else { waiters.append(continuation) }
        }
    }

    /// Tasks waiting for the lock (tests).
    var waiting: Int { urgentWaiters.count + waiters.count }

    func unlock() {
        if !urgentWaiters.isEmpty {
            urgentWaiters.removeFirst().resume()
        } else if !waiters.isEmpty {
            waiters.removeFirst().resume()
        } else {
            locked = false
        }
    }
}
