import LiveGateModel
import ChannelStore
import ControlAPI
import Foundation
import HTTPTypes
import XCTest

/// Issue #19 item 6 through HTTP on both stores: " alice " and a decomposed "người" used to be
/// users other than "alice" and "người", each with its own quota. Now a user id is NFC wherever
/// it enters — bodies, paths, filters, tokens, webhooks — and whitespace at its ends is 422.
extension ControlAPIConformanceTests {
    func testUserIdsAreOneFormWhereverTheyEnter() async throws {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let composed = "người\(suffix)", decomposed = "ngu\u{031B}o\u{031B}\u{0300}i\(suffix)"
        let pathNFD = try XCTUnwrap(decomposed.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let pathNFC = try XCTUnwrap(composed.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        XCTAssertNotEqual(pathNFD, pathNFC)
        try await withClient { c in
            for bad in [" alice\(suffix) ", " alice\(suffix)", "alice\(suffix)\t", "alice\(suffix)\u{3000}", "a\u{0007}b"] {
                let encoded = String(data: try JSONEncoder().encode(bad), encoding: .utf8)!
                let r = try await c.call(.post, "/v1/channels", "{\"name\":\"x\",\"userId\":\(encoded)}")
                XCTAssertEqual(r.status, 422, "\(bad.debugDescription): \(r.raw)")
                XCTAssertNotNil(r.fields["userId"], r.raw)
                let token = try await c.call(.post, "/v1/tokens", "{\"scopes\":[\"channels:read\"],\"userId\":\(encoded)}")
                XCTAssertEqual(token.status, 422, "tokens too: \(bad.debugDescription)")
            }
            let spacedPath = try await c.call(.put, "/v1/users/%20alice\(suffix)/config", #"{"maxChannels":1}"#)
            XCTAssertEqual(spacedPath.status, 422, "in a path too")
            let spacedFilter = try await c.call(.get, "/v1/channels?userId=alice\(suffix)%20")
            XCTAssertEqual(spacedFilter.status, 422, "and in a filter")
            XCTAssertNotNil(spacedFilter.fields["userId"])

            // The operator limits the composed user; the App Server creates with the decomposed form.
            let limited = try await c.call(.put, "/v1/users/\(pathNFC)/config", #"{"maxChannels":1}"#)
            XCTAssertEqual(limited.status, 200)
            let first = try await c.call(.post, "/v1/channels", "{\"name\":\"one\",\"userId\":\"\(decomposed)\"}")
            XCTAssertEqual(first.status, 201, first.raw)
            XCTAssertEqual((first.data?["userId"] as? String).map { Array($0.utf8) }, Array(composed.utf8), "stored as NFC")
            let second = try await c.call(.post, "/v1/channels", "{\"name\":\"two\",\"userId\":\"\(composed)\"}")
            XCTAssertEqual(second.status, 403, "one user, one quota")
            XCTAssertEqual(second.ec, 4031)
            let usage = try await c.call(.get, "/v1/users/\(pathNFD)/usage")
            XCTAssertEqual((usage.data?["channels"] as? [String: Any])?["used"] as? Int, 1, "the decomposed path finds the same user")
            let filteredNFD = try await c.call(.get, "/v1/channels?userId=\(pathNFD)")
            XCTAssertEqual(filteredNFD.items.count, 1)

            // A token bound to the decomposed form is bound to the user.
            let token = try await c.call(.post, "/v1/tokens", "{\"scopes\":[\"channels:read\"],\"userId\":\"\(decomposed)\"}")
            XCTAssertEqual((token.data?["userId"] as? String).map { Array($0.utf8) }, Array(composed.utf8))
            let bound = basic(try XCTUnwrap(token.data?["id"] as? String), try XCTUnwrap(token.data?["secret"] as? String))
            let seen = try await c.call(.get, "/v1/channels", auth: .some(bound))
            XCTAssertEqual(seen.items.count, 1)
            let own = try await c.call(.get, "/v1/users/\(pathNFD)/usage", auth: .some(bound))
            XCTAssertEqual(own.status, 200, "its own user, in either form")

            let hook = try await c.call(.post, "/v1/webhooks", "{\"url\":\"http://127.0.0.1:9/h\",\"userIds\":[\"\(decomposed)\"]}")
            XCTAssertEqual((hook.data?["userIds"] as? [String])?.map { Array($0.utf8) }, [Array(composed.utf8)])
            let badHook = try await c.call(.post, "/v1/webhooks", #"{"url":"http://127.0.0.1:9/h","userIds":[" x"]}"#)
            XCTAssertEqual(badHook.status, 422)
        }
    }
}
