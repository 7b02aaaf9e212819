import ChannelStore
import ControlAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import LiveGateModel
import TestSupport
import XCTest

/// `GET /v1/events/stream` (docs/api.md, "The live event stream"), read by `curl -N` as any SSE
/// client would, on SQLite and PostgreSQL: live events with `id` = seq and exactly the bodies
/// `/v1/events` lists, resumption with `Last-Event-ID`, the filters, the cap on open streams,
/// and a reader too slow closed rather than skipped.
extension ControlAPIConformanceTests {
    struct SSE: Equatable {
        var id: Int64
        var event: String
        var data: String
    }

    static func parseSSE(_ text: String) -> [SSE] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: Int64?, event = "message", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return id.map { SSE(id: $0, event: event, data: data) }
        }
    }

    static func append(_ store: SQLChannelStore, _ type: EventType, channel: String, user: String) async throws -> StoredEvent {
        try await store.appendEvent(.make(type: type.rawValue, channelId: channel, userId: user, at: Date(), data: .object(["channel": .object(["id": .string(channel)])])),
                                    now: Date())
    }

    /// A `curl -N` reading the stream until it closes (closeAfterSec) or `timeout`.
    static func stream(_ port: Int, _ path: String, headers: [String] = [], timeout: Double = 20, id: String = "tok_test",
                       secret: String = "s3cret-Value") -> Task<ProcessResult, any Error> {
        Task {
            try await ProcessRunner.run("curl", ["-s", "-N", "-u", "\(id):\(secret)"] + headers.flatMap { ["-H", $0] } + ["-D", "-", "http://127.0.0.1:\(port)\(path)"],
                                        timeout: timeout)
        }
    }

    func testTheEventStreamSendsLiveEventsResumesAndFilters() async throws {
        let store = self.store!, u = self.u
        let earlier = try await Self.append(store, .channelLive, channel: "ch_a", user: u)
        try await withClient(.live) { c in
            let port = try XCTUnwrap(c.client.port)
            let live = Self.stream(port, "/v1/events/stream?closeAfterSec=4")
            try await Task.sleep(for: .seconds(1))
            let b = try await Self.append(store, .channelOffline, channel: "ch_a", user: u)
            let c2 = try await Self.append(store, .channelLive, channel: "ch_b", user: u)
            let out = try await live.value.stdout
            XCTAssertTrue(out.lowercased().contains("content-type: text/event-stream"), out)
            let got = Self.parseSSE(out)
            XCTAssertEqual(got.map(\.id), [b.seq, c2.seq], "live events only (not the earlier one), in seq order: \(out)")
            XCTAssertEqual(got.map(\.event), ["channel.offline", "channel.live"])
            // The same bodies the log lists.
            let listed = try await c.call(.get, "/v1/events?after=\(earlier.seq)")
            let bodies = listed.items.map { item in String(data: try! JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]), encoding: .utf8)! }
            let streamed = got.map { sse in
                String(data: try! JSONSerialization.data(withJSONObject: try! JSONSerialization.jsonObject(with: Data(sse.data.utf8)), options: [.sortedKeys]),
                       encoding: .utf8)!
            }
            XCTAssertEqual(streamed, bodies)

            // Resumed after the first: the backlog from the log, then live.
            let resumed = try await Self.stream(port, "/v1/events/stream?closeAfterSec=2", headers: ["Last-Event-ID: \(b.seq)"]).value.stdout
            XCTAssertEqual(Self.parseSSE(resumed).map(\.id), [c2.seq], resumed)
            let fromStart = try await Self.stream(port, "/v1/events/stream?closeAfterSec=2&after=0").value.stdout
            XCTAssertEqual(Self.parseSSE(fromStart).map(\.id), [earlier.seq, b.seq, c2.seq])
            // The filters of /v1/events.
            let offline = try await Self.stream(port, "/v1/events/stream?closeAfterSec=2&after=0&type=channel.offline").value.stdout
            XCTAssertEqual(Self.parseSSE(offline).map(\.id), [b.seq])
            let channelB = try await Self.stream(port, "/v1/events/stream?closeAfterSec=2&after=0&channelId=ch_b").value.stdout
            XCTAssertEqual(Self.parseSSE(channelB).map(\.id), [c2.seq])
            // Bad resumption point: 400 naming it, not a stream.
            let bad = try await Self.stream(port, "/v1/events/stream?closeAfterSec=1", headers: ["Last-Event-ID: x"]).value.stdout
            XCTAssertTrue(bad.hasPrefix("HTTP/1.1 400"), bad)
        }
    }

    func testOpenEventStreamsAreCappedAndASlowReaderIsClosedNotSkipped() async throws {
        let store = self.store!, u = self.u
        var configuration = api.configuration
        configuration.eventStreams.maxStreams = 1
        let capped = ControlAPI(store: store, configuration: configuration)
        let app = Application(router: capped.makeRouter())
        let (id, secret) = (tokenID, tokenSecret)
        try await app.test(.live) { client in
            let port = try XCTUnwrap(client.port)
            // HEADs take no slot (their body never runs, so nothing would give one back).
            for _ in 0..<3 {
                let head = try await ProcessRunner.run("curl", ["-s", "-I", "-u", "\(id):\(secret)", "http://127.0.0.1:\(port)/v1/events/stream"], timeout: 10).stdout
                XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), head)
            }
            XCTAssertEqual(capped.eventStreamsOpen, 0)
            let first = Self.stream(port, "/v1/events/stream?closeAfterSec=3")
            try await Task.sleep(for: .milliseconds(800))
            let second = try await ProcessRunner.run("curl", ["-s", "-D", "-", "-u", "\(id):\(secret)", "http://127.0.0.1:\(port)/v1/events/stream?closeAfterSec=1"],
                                                     timeout: 10).stdout
            XCTAssertTrue(second.hasPrefix("HTTP/1.1 503"), second)
            XCTAssertTrue(second.lowercased().contains("retry-after: 5"), second)
            XCTAssertTrue(second.contains("5030"), second)
            _ = try await first.value
            // The first one closed: a stream may open again.
            let again = try await Self.stream(port, "/v1/events/stream?closeAfterSec=1").value.stdout
            XCTAssertTrue(again.hasPrefix("HTTP/1.1 200"), again)
        }

        // A reader that takes nothing: closed once 16 KB wait for it; what it got is a prefix.
        var settings = EventFeed.Settings()
        settings.maxBufferedBytes = 16 << 10
        settings.pollInterval = .milliseconds(50)
        let feed = EventFeed(store: store, settings: settings)
        let opened = try await feed.stream(matching: EventQuery())
        let subscription = try XCTUnwrap(opened)
        var appended: [Int64] = []
        for i in 0..<200 { appended.append(try await Self.append(store, .channelMedia, channel: "ch_\(i)", user: u).seq) }
        var received: [Int64] = []
        let reading = Task { var got: [Int64] = []; for await e in subscription { got.append(e.seq) }; return got }
        received = await reading.value
        XCTAssertLessThan(received.count, appended.count, "closed before it got everything")
        XCTAssertGreaterThan(received.count, 10)
        XCTAssertEqual(received, Array(appended.prefix(received.count)), "nothing skipped before the close: a resume from the last id loses nothing")
    }
}
