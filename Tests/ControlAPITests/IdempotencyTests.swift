import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// `Idempotency-Key` (issue #13 item 3, docs/contract.md §4) through HTTP on both stores: an App Server's
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

            // The same JSON said another way is the same request (RFC 8785 canonical form):
            // keys reordered, whitespace, escapes, 1.0 for 1 — it used to be 422.
            for same in ["{ \"userId\" : \"\(u)\",\n  \"name\": \"once\" }", #"{"name":"\u006fnce","userId":"\#(u)"}"#] {
                let replayed = try await c.call(.post, "/v1/channels", same, headers: [key: "create-once-1"])
                XCTAssertEqual(replayed.status, 201, "\(same): \(replayed.raw)")
                XCTAssertEqual(replayed.raw, first.raw)
                XCTAssertEqual(replayed.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
            }
            let withLimit = try await c.call(.post, "/v1/channels", #"{"name":"lim","userId":"\#(u)","reconnectWindowSec":10}"#, headers: [key: "numbers"])
            let sameNumber = try await c.call(.post, "/v1/channels", #"{"reconnectWindowSec":10.0,"userId":"\#(u)","name":"lim"}"#, headers: [key: "numbers"])
            XCTAssertEqual(sameNumber.raw, withLimit.raw, "10.0 is 10")

            let other = try await c.call(.post, "/v1/channels", #"{"name":"twice","userId":"\#(u)"}"#, headers: [key: "create-once-1"])
            XCTAssertEqual(other.status, 422, "the same key with another body")
            XCTAssertEqual(other.ec, 4220)
            XCTAssertEqual(other.fields["Idempotency-Key"], "was used with another request body")
            let elsewhere = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/h"}"#, headers: [key: "create-once-1"])
            XCTAssertEqual(elsewhere.status, 422, "the same key on another path")
            XCTAssertEqual(elsewhere.fields["Idempotency-Key"], "was used for another operation (method or path)", "named as such")

            // A request refused as invalid does not use the key up: corrected, it runs.
            let invalid = try await c.call(.post, "/v1/channels", #"{"name":""}"#, headers: [key: "bad-1"])
            XCTAssertEqual(invalid.status, 422)
            XCTAssertNil(invalid.headers[HTTPField.Name("Idempotent-Replayed")!])
            let corrected = try await c.call(.post, "/v1/channels", #"{"name":"fixed","userId":"\#(u)"}"#, headers: [key: "bad-1"])
            XCTAssertEqual(corrected.status, 201, "the key was not used up: \(corrected.raw)")
            let malformed = try await c.call(.post, "/v1/channels", #"{"name":"x","name":"y"}"#, headers: [key: "bad-2"])
            XCTAssertEqual(malformed.status, 400)
            let fixed = try await c.call(.post, "/v1/channels", #"{"name":"y","userId":"\#(u)"}"#, headers: [key: "bad-2"])
            XCTAssertEqual(fixed.status, 201, fixed.raw)

            // Without a key, two POSTs are two channels; a new key is a new request.
            _ = try await c.call(.post, "/v1/channels", body)
            let second = try await c.call(.post, "/v1/channels", body, headers: [key: "create-once-2"])
            XCTAssertEqual(second.status, 201)
            XCTAssertNotEqual(second.data?["id"] as? String, first.data?["id"] as? String)
            let count = try await c.call(.get, "/v1/channels?userId=\(u)")
            XCTAssertEqual(count.items.count, 6)

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
