import NIOCore

/// Something waiting for its merged read (a connection's handler).
protocol MergedReadWaiter: AnyObject {
    /// The merge interval has passed: read now.
    func mergedReadDue()
}

/// One timer per event loop for every connection's next merged read (docs/architecture.md
/// "Merged reads").
///
/// A connection with merged reads waits the merge interval after each small read. Scheduled one
/// by one, 1,500 real-time publishers made 15,000 `scheduleTask`s a second — each a promise and
/// a closure allocated and a push and pop in NIO's heap of scheduled tasks, whose element copies
/// were a tenth of the gateway's CPU (`swift_retain` under `ScheduledTask`'s copies; BENCHMARKS.md
/// "Merged reads on one timer per loop"). Every wait is the same length, so the deadlines come in
/// the order the waits were asked for: a FIFO holds them, and one scheduled task at a time — for
/// the head's deadline, at least `slack` after the previous one — serves every wait due by then.
/// A wait lasts `delay` to `delay + slack`; the timer fires at most once per `slack`.
///
/// Touched only on its event loop (the connections it serves are that loop's).
final class MergedReadTimer: @unchecked Sendable {
    private let eventLoop: any EventLoop
    let delay: TimeAmount
    let slack: TimeAmount
    private var waiting = CircularBuffer<(due: NIODeadline, waiter: any MergedReadWaiter)>(initialCapacity: 64)
    private var armed = false
    /// Times the timer fired (tests: bounded by the slack, not by the waits).
    private(set) var fires = 0

    init(eventLoop: any EventLoop, delay: TimeAmount, slack: TimeAmount = .milliseconds(10)) {
        self.eventLoop = eventLoop
        self.delay = delay
        self.slack = slack
    }

    var count: Int { waiting.count }

    /// `waiter` reads after `delay` (to `delay + slack`).
    func add(_ waiter: any MergedReadWaiter) {
        eventLoop.assertInEventLoop()
        let due = eventLoop.now + delay
        waiting.append((due, waiter))
        if !armed { arm(at: due) }
    }

    private func arm(at deadline: NIODeadline) {
        armed = true
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(deadline: deadline) { bound.value.fire() }
    }

    private func fire() {
        // Still `armed` while the due waiters read, so a wait asked for meanwhile does not
        // schedule a second task: this firing re-arms below.
        fires += 1
        let now = eventLoop.now
        // A waiter's read may ask for its next wait at once: appended behind, due a whole
        // `delay` later, so this loop never reaches it.
        while let first = waiting.first, first.due <= now {
            waiting.removeFirst().waiter.mergedReadDue()
        }
        armed = false
        if let first = waiting.first { arm(at: max(first.due, now + slack)) }
    }
}

/// The merged-read timers of a server's event loops, one each, found by the connection's loop.
struct MergedReadTimers: Sendable {
    private let timers: [ObjectIdentifier: MergedReadTimer]

    init() { timers = [:] }

    init(group: any EventLoopGroup, delay: TimeAmount) {
        var timers: [ObjectIdentifier: MergedReadTimer] = [:]
        for loop in group.makeIterator() { timers[ObjectIdentifier(loop)] = MergedReadTimer(eventLoop: loop, delay: delay) }
        self.timers = timers
    }

    /// The loop's timer, if it is one of the server's (an embedded test loop is not).
    func timer(for loop: any EventLoop) -> MergedReadTimer? { timers[ObjectIdentifier(loop)] }
}
