import NIOCore

/// One 20 ms tick per event loop that sends every real-time publisher's due tags on that loop.
///
/// A repeated task per connection (the first version) put 50 × N scheduled tasks a second into
/// NIO's timer heap; at 1,500 publishers the load generator then took about 1.1 of the machine's
/// two cores and could not drive 4,000 at all. The publishers on one loop all wake at the same
/// interval, so one task serves them all. Lives on its loop; reached through `LoopPacers`.
final class LoopPacer {
    private let eventLoop: any EventLoop
    private var members: [ObjectIdentifier: (handler: PublisherHandler, context: ChannelHandlerContext)] = [:]
    private var task: RepeatedTask?
    let interval: TimeAmount

    init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    func add(_ handler: PublisherHandler, context: ChannelHandlerContext) {
        eventLoop.preconditionInEventLoop()
        members[ObjectIdentifier(handler)] = (handler, context)
        guard task == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        task = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in bound.value.tick() }
    }

    func remove(_ handler: PublisherHandler) {
        eventLoop.preconditionInEventLoop()
        members[ObjectIdentifier(handler)] = nil
        if members.isEmpty {
            task?.cancel()
            task = nil
        }
    }

    /// A handler that finishes during the tick removes itself; the snapshot keeps the walk valid.
    private func tick() {
        for member in Array(members.values) { member.handler.sendDue(context: member.context) }
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

    /// The pacer of `context`'s loop (call on that loop).
    func pacer(for eventLoop: any EventLoop) -> LoopPacer {
        byLoop[ObjectIdentifier(eventLoop)]!.value
    }
}
