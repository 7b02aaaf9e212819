import ChannelStore
import Foundation
import LiveGateModel
import NIOConcurrencyHelpers

/// What every open `GET /v1/events/stream` of this node reads from (docs/api.md, "The live
/// event stream"): one poller of the event log — shared by all the streams, running only while
/// one is open — hands each new event to the streams whose filters take it. The log is the
/// store's, so events any node commits reach every node's streams. Bounded: at most
/// `maxStreams` open, and a stream whose reader lets more than `maxBufferedBytes` pile up is
/// closed (it resumes with `Last-Event-ID`, losing nothing).
public final class EventFeed: Sendable {
    public struct Settings: Sendable {
        public var maxStreams = 100
        public var maxBufferedBytes = 1 << 20
        public var pollInterval: Duration = .milliseconds(250)
        public init() {}
    }

    /// One open stream: what it takes, where its events go, how much waits unread.
    final class Subscription: Sendable {
        let id: Int
        let accepts: @Sendable (StoredEvent) -> Bool
        let continuation: AsyncStream<StoredEvent>.Continuation
        let events: AsyncStream<StoredEvent>
        /// Bytes handed over and not yet written to the socket.
        let buffered = NIOLockedValueBox(0)
        let overflowed = NIOLockedValueBox(false)

        init(id: Int, accepts: @escaping @Sendable (StoredEvent) -> Bool) {
            self.id = id
            self.accepts = accepts
            (events, continuation) = AsyncStream.makeStream(of: StoredEvent.self)
        }

        /// The writer wrote an event of `bytes`.
        func written(_ bytes: Int) { buffered.withLockedValue { $0 -= bytes } }
    }

    private struct State {
        var subscribers: [Int: Subscription] = [:]
        var nextId = 0
        var poller: Task<Void, Never>?
        var head: Int64?
    }

    let store: any ChannelStore
    let settings: Settings
    private let state = NIOLockedValueBox(State())

    public init(store: any ChannelStore, settings: Settings = Settings()) {
        self.store = store
        self.settings = settings
    }

    /// What an event counts against a reader's buffer: its SSE text, about.
    static func size(_ event: StoredEvent) -> Int { event.payload.jsonText.utf8.count + 64 }

    public var openStreams: Int { state.withLockedValue { $0.subscribers.count } }

    /// A new stream, or nil when `maxStreams` are open. The feed's position is known before it
    /// returns: a stream that then reads its backlog to the log's end misses nothing between.
    func subscribe(accepts: @escaping @Sendable (StoredEvent) -> Bool) async throws -> Subscription? {
        if state.withLockedValue({ $0.head == nil }) {
            let last = try await store.lastEventSeq()
            state.withLockedValue { $0.head = $0.head ?? last }
        }
        return state.withLockedValue { s in
            guard s.subscribers.count < settings.maxStreams else { return nil }
            s.nextId += 1
            let subscription = Subscription(id: s.nextId, accepts: accepts)
            s.subscribers[subscription.id] = subscription
            if s.poller == nil { s.poller = Task { [self] in await poll() } }
            return subscription
        }
    }

    /// The events `query`'s filters take, from now on, for a reader in this process; nil when
    /// `maxStreams` are open. Nothing is counted as read: a reader this slow is cut off too.
    public func stream(matching query: EventQuery) async throws -> AsyncStream<StoredEvent>? {
        try await subscribe(accepts: { query.accepts($0) })?.events
    }

    func unsubscribe(_ subscription: Subscription) {
        subscription.continuation.finish()
        state.withLockedValue { s in
            s.subscribers[subscription.id] = nil
            if s.subscribers.isEmpty {
                s.poller?.cancel()
                s.poller = nil
                s.head = nil // the next first stream starts at the log's end then
            }
        }
    }

    /// Reads the log after its head while a stream is open; the head starts at the log's end
    /// (a stream's own backlog is read by the stream itself, from where it resumes).
    private func poll() async {
        while !Task.isCancelled {
            var head = state.withLockedValue { $0.head }
            if head == nil {
                guard let last = try? await store.lastEventSeq() else {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                head = last
                state.withLockedValue { $0.head = $0.head ?? last }
            }
            var more = false
            if let after = head, let page = try? await store.events(EventQuery(after: after, limit: 500)) {
                if let last = page.items.last?.seq { state.withLockedValue { $0.head = max($0.head ?? 0, last) } }
                let subscribers = state.withLockedValue { Array($0.subscribers.values) }
                for event in page.items {
                    let size = Self.size(event)
                    for s in subscribers where s.accepts(event) && !s.overflowed.withLockedValue({ $0 }) {
                        let total = s.buffered.withLockedValue { $0 += size; return $0 }
                        if total > settings.maxBufferedBytes {
                            // Too slow a reader: closed, never silently skipped.
                            s.overflowed.withLockedValue { $0 = true }
                            s.continuation.finish()
                        } else {
                            s.continuation.yield(event)
                        }
                    }
                }
                more = page.nextCursor != nil
            }
            if !more { try? await Task.sleep(for: settings.pollInterval) }
        }
    }
}

extension EventQuery {
    /// Whether an event is one this query lists (the same filters `/v1/events` applies in SQL).
    func accepts(_ e: StoredEvent) -> Bool {
        if !types.isEmpty && !types.contains(e.type) { return false }
        if let channelId, e.channelId != channelId { return false }
        if let userId, e.userId != userId { return false }
        if let from, e.createdAt < from { return false }
        if let to, e.createdAt >= to { return false }
        return true
    }
}
