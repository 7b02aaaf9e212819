import NIOCore

/// One timer per event loop that sends every real-time publisher's due tags on that loop, each
/// publisher every `interval`, at its own phase.
///
/// A repeated task per connection (the first version) put 50 × N scheduled tasks a second into
/// NIO's timer heap; at 1,500 publishers the load generator took 1.1–1.2 of the machine's two
/// cores and could not drive 4,000. One 20 ms tick for all of a loop's publishers halved that,
/// but sent them all at the same instant — bursts no set of real encoders makes, which changed
/// the servers' figures (nginx-rtmp's cores at 1,500 fell by 30 %: one `epoll_wait` for all).
/// So each publisher has a phase of its own: the pacer ticks every millisecond and serves the
/// publishers whose phase that millisecond is. The phase is drawn at random, as independent
/// encoders' would be: publishers that start together (a benchmark starts 40 at once) would
/// otherwise keep sending together for the whole run — with a timer each they drifted apart,
/// each re-armed after its own send. Lives on its loop; reached through `LoopPacers`.
final class LoopPacer {
    typealias Member = (handler: PublisherHandler, context: ChannelHandlerContext)
    private let eventLoop: any EventLoop
    /// Publishers by phase: slot `k` is served at every millisecond `m` with `m % slots == k`.
    /// Arrays walked in place: no dictionary walk, no copy of a slot every millisecond.
    private var slots: [[Member]]
    /// Each member's slot, to find it when it leaves.
    private var slotOf: [ObjectIdentifier: Int] = [:]
    private var count = 0
    private var task: RepeatedTask?
    private let started = NIODeadline.now()
    /// The last millisecond (since `started`) whose slot was served.
    private var served: Int64 = 0
    /// Set while a slot is walked: members leaving then (a publisher finishing as it is served)
    /// are taken out after the walk.
    private var walking = false
    private var leaving: [ObjectIdentifier] = []

    init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        slots = Array(repeating: [], count: max(1, Int(interval.nanoseconds / 1_000_000)))
    }

    private var nowMs: Int64 { (NIODeadline.now() - started).nanoseconds / 1_000_000 }

    /// Served first within one interval, at a random phase, then every interval after it.
    func add(_ handler: PublisherHandler, context: ChannelHandlerContext) {
        eventLoop.preconditionInEventLoop()
        let id = ObjectIdentifier(handler)
        guard slotOf[id] == nil else { return }
        if count == 0 { served = nowMs }
        let slot = Int.random(in: 0..<slots.count)
        slots[slot].append((handler, context))
        slotOf[id] = slot
        count += 1
        guard task == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        task = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { _ in bound.value.tick() }
    }

    func remove(_ handler: PublisherHandler) {
        eventLoop.preconditionInEventLoop()
        let id = ObjectIdentifier(handler)
        if walking {
            leaving.append(id)
        } else {
            remove(id)
        }
    }

    private func remove(_ id: ObjectIdentifier) {
        guard let slot = slotOf.removeValue(forKey: id),
              let at = slots[slot].firstIndex(where: { ObjectIdentifier($0.handler) == id }) else { return }
        slots[slot].swapAt(at, slots[slot].count - 1)
        slots[slot].removeLast()
        count -= 1
        if count == 0 {
            task?.cancel()
            task = nil
        }
    }

    /// Serves every millisecond's slot since the last tick (a late tick catches up, at most one
    /// interval's worth).
    private func tick() {
        let now = nowMs
        let from = max(served + 1, now - Int64(slots.count) + 1)
        guard from <= now else { return }
        walking = true
        for m in from...now {
            let slot = Int(m % Int64(slots.count))
            // Members added while walking join other slots' arrays or the end of this one, which
            // the walk (bounded by the count it started with) does not reach.
            for i in 0..<slots[slot].count { slots[slot][i].handler.sendDue(context: slots[slot][i].context) }
        }
        walking = false
        served = now
        while let id = leaving.popLast() { remove(id) }
    }
}

/// Every loop's `LoopPacer`, built once for the group (immutable afterwards, so Sendable).
struct LoopPacers: Sendable {
    private let byLoop: [ObjectIdentifier: NIOLoopBound<LoopPacer>]

    private init(byLoop: [ObjectIdentifier: NIOLoopBound<LoopPacer>]) { self.byLoop = byLoop }

    static func make(group: any EventLoopGroup, interval: TimeAmount) async throws -> LoopPacers {
        var byLoop: [ObjectIdentifier: NIOLoopBound<LoopPacer>] = [:]
        for loop in group.makeIterator() {
            // Each made on its own loop: NIOLoopBound checks where it is created.
            byLoop[ObjectIdentifier(loop)] = try await loop.submit { NIOLoopBound(LoopPacer(eventLoop: loop, interval: interval), eventLoop: loop) }.get()
        }
        return LoopPacers(byLoop: byLoop)
    }

    /// The pacer of `eventLoop` (call on that loop).
    func pacer(for eventLoop: any EventLoop) -> LoopPacer {
        byLoop[ObjectIdentifier(eventLoop)]!.value
    }
}
