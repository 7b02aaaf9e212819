import Foundation
import HTTPTypes
import Hummingbird
import LiveGateModel
import NIOCore

/// `GET /v1/events/stream` (docs/api.md, "The live event stream"): the event log as
/// Server-Sent Events — each event's `id:` is its `seq`, `event:` its type, `data:` exactly the
/// webhook body — with the filters of `/v1/events`. A reader resumes with `Last-Event-ID` (or
/// `after`): the stream first sends what it missed from the log, then follows it live through
/// the node's shared `EventFeed`. A comment every 15 s keeps proxies from closing it.
extension ControlAPI {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let heartbeat: Duration = .seconds(15)

    static let streamFilters: [QueryParameter] = eventFilters + [
        QueryParameter("closeAfterSec", .integer(1...86_400), "Close the stream after this many seconds (scripts, tests); default: open until the reader leaves"),
    ]

    /// Event streams open on this node now.
    public var eventStreamsOpen: Int { eventFeed.openStreams }

    func eventStream(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var asked = try eventQuery(request, context)
        if let raw = request.headers[Self.lastEventID] {
            guard let seq = Int64(raw.trimmingCharacters(in: .whitespaces)), seq >= 0 else {
                throw APIError(.badRequest, ec: 4000, "Last-Event-ID must be an event seq (a non-negative integer)")
            }
            let after = max(asked?.after ?? 0, seq)
            asked?.after = after
        }
        let query = asked
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"]
        // A HEAD gets the headers only: no subscription (its body would never run to end one).
        if request.method == .head { return Response(status: .ok, headers: headers, body: .init()) }
        let closeAfter = QueryReader(request: request).string("closeAfterSec").flatMap { Int($0) }
        let filter = query ?? EventQuery(types: ["#none"])
        guard let subscription = try await eventFeed.subscribe(accepts: { query != nil && filter.accepts($0) }) else {
            throw APIError(.serviceUnavailable, ec: 5030, "too many open event streams on this node (events.maxStreams); retry shortly",
                           headers: [.retryAfter: "5"])
        }
        let store = self.store, feed = eventFeed
        // Where the reader is: from `after`/Last-Event-ID its backlog comes from the log; with
        // neither, it starts at the live end.
        let resumes = request.headers[Self.lastEventID] != nil || QueryReader(request: request).string("after") != nil
        let resumeFrom: Int64? = resumes ? (query?.after ?? 0) : nil
        let body = ResponseBody { writer in
            defer { feed.unsubscribe(subscription) }
            var sent: Int64 = resumeFrom ?? 0
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            if let from = resumeFrom, query != nil {
                var page = EventQuery(after: from, types: filter.types, channelId: filter.channelId, userId: filter.userId, from: filter.from,
                                      to: filter.to, limit: 500)
                while true {
                    let got = try await store.events(page)
                    for event in got.items {
                        try await writer.write(ByteBuffer(string: Self.sse(event)))
                        sent = event.seq
                    }
                    guard got.nextCursor != nil, let last = got.items.last else { break }
                    page.after = last.seq
                }
            }
            let deadline = closeAfter.map { ContinuousClock.now + .seconds($0) }
            // Live: events, and a heartbeat whenever 15 s pass without one.
            let merged = AsyncStream<StoredEvent?> { continuation in
                let events = Task {
                    for await event in subscription.events { continuation.yield(event) }
                    continuation.finish()
                }
                let beats = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.heartbeat)
                        continuation.yield(nil)
                    }
                }
                let ender = Task {
                    if let deadline { try? await Task.sleep(until: deadline); continuation.finish() }
                }
                continuation.onTermination = { _ in events.cancel(); beats.cancel(); ender.cancel() }
            }
            for await item in merged {
                if let event = item {
                    subscription.written(EventFeed.size(event))
                    guard event.seq > sent else { continue }
                    try await writer.write(ByteBuffer(string: Self.sse(event)))
                    sent = event.seq
                } else {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            if subscription.overflowed.withLockedValue({ $0 }) {
                try? await writer.write(ByteBuffer(string: "event: overflow\ndata: {\"resumeWith\":\(sent)}\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// One event as SSE: `data` is one line (the JSON has no raw newlines).
    static func sse(_ event: StoredEvent) -> String {
        "id: \(event.seq)\nevent: \(event.type)\ndata: \(event.payload.jsonText)\n\n"
    }
}
