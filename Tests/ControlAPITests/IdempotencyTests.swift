import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// `Idempotency-Key` (issue #13 item 3, SPEC §4) through HTTP on both stores: an App Server's
/// retries never create two channels.
extension ControlAPIConformanceTests {
    func testIdempotencyKeyReplaysTheFirstAnswerAndRefusesAnotherBody() async throws {
        let u = self.u
        let key = HTTPField.Name("Idempotency-Key")!
        try await withClient { c in
            let body = #"{"name":"once","userId":"\#(u)"}"#
            let first = try await c.call(.post, "/v1/channels", body, headers: [key: "create-once-1"])
            XCTAssertEqual(first.status, 201, first.raw)
            let again = try await c.call(.post, "/v1/channels", body, headers: [key: "create-once-1"])
            XCTAssertEqual(again.status, 201)
            XCTAssertEqual(again.raw, first.raw, "the same answer, byte for byte (same id, same stream key)")
            XCTAssertEqual(again.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
            let listed = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(listed.items.count, 1, "one channel, whatever the retries")

            let other = try await c.call(.post, "/v1/channels", #"{"name":"twice","userId":"\#(u)"}"#, headers: [key: "create-once-1"])
            XCTAssertEqual(other.status, 422, "the same key with another body")
            XCTAssertEqual(other.ec, 4220)
            XCTAssertNotNil(other.fields["Idempotency-Key"])
            let elsewhere = try await c.call(.post, "/v1/webhooks", body, headers: [key: "create-once-1"])
            XCTAssertEqual(elsewhere.status, 422, "the same key on another path")

            // A refused request is answered the same way again (it is an answer too).
            let invalid = try await c.call(.post, "/v1/channels", #"{"name":""}"#, headers: [key: "bad-1"])
            XCTAssertEqual(invalid.status, 422)
            let invalidAgain = try await c.call(.post, "/v1/channels", #"{"name":""}"#, headers: [key: "bad-1"])
            XCTAssertEqual(invalidAgain.raw, invalid.raw)
            XCTAssertEqual(invalidAgain.headers[HTTPField.Name("Idempotent-Replayed")!], "true")

            // Without a key, two POSTs are two channels; a new key is a new request.
            _ = try await c.call(.post, "/v1/channels", body)
            let second = try await c.call(.post, "/v1/channels", body, headers: [key: "create-once-2"])
            XCTAssertEqual(second.status, 201)
            XCTAssertNotEqual(second.data?["id"] as? String, first.data?["id"] as? String)
            let count = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(count.items.count, 3)

            for bad in [String(repeating: "k", count: 256), "has space", "tab\tkey"] {
                let r = try await c.call(.post, "/v1/channels", body, headers: [key: bad])
                XCTAssertEqual(r.status, 400, bad)
            }
        }
    }

    /// Two retries at once with one key: one creates, the other is told it is in progress (or
    /// gets the first's answer) — never a second channel.
    func testConcurrentRetriesWithOneKeyCreateOneChannel() async throws {
        let u = self.u
        let key = HTTPField.Name("Idempotency-Key")!
        try await withClient(.live) { c in
            let body = #"{"name":"race","userId":"\#(u)"}"#
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await c.call(.post, "/v1/channels", body, headers: [key: "race-1"]).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            XCTAssertTrue(statuses.allSatisfy { $0 == 201 || $0 == 409 }, "\(statuses)")
            XCTAssertTrue(statuses.contains(201))
            let listed = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(listed.items.count, 1)
        }
    }
}
