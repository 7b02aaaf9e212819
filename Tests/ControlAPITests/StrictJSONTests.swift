import LiveGateModel
@testable import ControlAPI
import ChannelStore
import Foundation
import HTTPTypes
import TestSupport
import XCTest

/// Issue #19 item 5: duplicate member names, nesting past 32 and bodies that are not JSON are
/// refused saying so, through HTTP on both stores; the parser agrees with Python's `json` on
/// valid input and never traps on mutated input; the canonical form is RFC 8785's.
extension ControlAPIConformanceTests {
    func testDuplicateKeysDeepNestingAndNonJSONMediaTypesAreRefusedSayingWhy() async throws {
        let u = self.u
        try await withClient { c in
            // Duplicate keys used to be accepted, the first one winning.
            let dup = try await c.call(.post, "/v1/channels", #"{"name":"a","userId":"\#(u)","name":"b"}"#)
            XCTAssertEqual(dup.status, 400, dup.raw)
            XCTAssertEqual(dup.ec, 4000)
            XCTAssertEqual(dup.data?["duplicateKey"] as? String, "name")
            XCTAssertEqual(dup.data?["pointer"] as? String, "/name")
            XCTAssertTrue((dup.body["msg"] as? String)?.contains("duplicate member name") == true, dup.raw)
            let nested = try await c.call(.post, "/v1/channels", #"{"name":"a","userId":"\#(u)","metadata":{"x":{"y":1,"y":2}}}"#)
            XCTAssertEqual(nested.data?["pointer"] as? String, "/metadata/x/y", "a duplicate deep inside is found and located")
            // 5,000 levels used to be "malformed JSON".
            let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let tooDeep = try await c.call(.post, "/v1/channels", #"{"name":"a","userId":"\#(u)","metadata":{"d":\#(deep)}}"#)
            XCTAssertEqual(tooDeep.status, 400)
            XCTAssertTrue((tooDeep.body["msg"] as? String)?.contains("nested too deeply") == true, tooDeep.raw)
            XCTAssertEqual(tooDeep.data?["maxDepth"] as? Int, 32)
            let thirtyTwo = "{\"name\":\"ok\",\"userId\":\"\(u)\",\"metadata\":{\"d\":" + String(repeating: "[", count: 30) + String(repeating: "]", count: 30) + "}}"
            let atLimit = try await c.call(.post, "/v1/channels", thirtyTwo)
            XCTAssertNotEqual(atLimit.status, 400, "32 levels are within the limit: \(atLimit.raw.prefix(200))")
            let broken = try await c.call(.post, "/v1/channels", #"{"name":"a""#)
            XCTAssertEqual(broken.status, 400)
            XCTAssertTrue((broken.body["msg"] as? String)?.hasPrefix("malformed JSON") == true, broken.raw)

            // The media type: application/json (charset UTF-8 allowed); merge-patch+json for PATCH.
            let body = #"{"name":"typed","userId":"\#(u)"}"#
            for (type, expected) in [("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("application/json; charset=latin1", 415),
                                     ("application/merge-patch+json", 415), ("application/json; charset=utf-8", 201), ("Application/JSON", 201)] {
                let r = try await c.call(.post, "/v1/channels", nil, headers: [.contentType: type], rawBody: body)
                XCTAssertEqual(r.status, expected, type)
                if expected == 415 {
                    XCTAssertEqual(r.ec, 4150, type)
                    XCTAssertEqual(r.data?["accepted"] as? [String], ["application/json"])
                }
            }
            let none = try await c.call(.post, "/v1/channels", nil, headers: [:], rawBody: body)
            XCTAssertEqual(none.status, 415, "no Content-Type")
            let created = try await c.createChannel("patchable", user: u)
            let id = try XCTUnwrap(created["id"] as? String)
            let mergePatch = try await c.call(.patch, "/v1/channels/\(id)", nil, headers: [.contentType: "application/merge-patch+json"], rawBody: #"{"name":"p"}"#)
            XCTAssertEqual(mergePatch.status, 200, mergePatch.raw)
            let textPatch = try await c.call(.patch, "/v1/channels/\(id)", nil, headers: [.contentType: "text/plain"], rawBody: #"{"name":"p"}"#)
            XCTAssertEqual(textPatch.status, 415)
            XCTAssertEqual(textPatch.data?["accepted"] as? [String], ["application/json", "application/merge-patch+json"])
        }
    }
}

final class StrictJSONParserTests: XCTestCase {
    func testValidDocumentsParseAsPythonReadsThem() async throws {
        let documents = [
            #"{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\ud83d\ude00\n"},"f":-1.5e3,"g":0,"h":1E-2}"#,
            #"[]"#, #"{}"#, #""x""#, #"  [ 1 , 2 ]  "#, #"{"":{"":[]}}"#, #"{"k":"\"\\\/\b\f\n\r\t"}"#,
        ]
        let python = try await StandardWebhooksVerifier.python()
        for doc in documents {
            let ours = try StrictJSONParser.parse(Array(doc.utf8))
            let r = try await ProcessRunner.run(python, ["-c", "import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True, separators=(',',':')))", doc], timeout: 10)
            XCTAssertEqual(r.exitCode, 0, r.stderr)
            let theirs = try XCTUnwrap(JSONValue.parse(r.stdout.trimmingCharacters(in: .newlines)), r.stdout)
            XCTAssertEqual(ours, theirs, doc)
        }
    }

    func testInvalidDocumentsAreRefusedAndMutationsNeverTrap() throws {
        for bad in ["", " ", "{", "[1,]", #"{"a":1,}"#, "01", "1.", ".5", "+1", "tru", "nul", #""\x""#, #""\ud800""#, #""\udc00x""#, "\"a\u{01}\"",
                    "[1] [2]", "NaN", "Infinity", "1e400", #"{"a" 1}"#, "\u{FEFF}{}", "'a'"] {
            XCTAssertThrowsError(try StrictJSONParser.parse(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try StrictJSONParser.parse([0x22, 0xC3, 0x28, 0x22]), "invalid UTF-8")
        // Seeded mutations of a valid body: any answer but a trap (the test process would die).
        var rng = SystemRandomNumberGenerator()
        let seed = Array(#"{"name":"x","tags":["a","b"],"metadata":{"k":[1,2.5,{"z":null}],"s":"\u00e9"}}"#.utf8)
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            if (try? StrictJSONParser.parse(bytes)) != nil { parsed += 1 }
        }
        XCTAssertGreaterThan(parsed, 0)
    }

    func testCanonicalFormIsRFC8785() throws {
        // RFC 8785 appendix B's numbers, and the sorting and escaping rules of §3.2.
        let numbers: [(Double, String)] = [(0, "0"), (-0.0, "0"), (1, "1"), (-1, "-1"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
                                           (0.000001, "0.000001"), (1e-7, "1e-7"), (123.456, "123.456"), (Double.leastNonzeroMagnitude, "5e-324"),
                                           (1.7976931348623157e308, "1.7976931348623157e+308"), (9007199254740992, "9007199254740992"),
                                           (Double(sign: .plus, exponent: 68, significand: 1), "295147905179352830000"), (0.1, "0.1"), (333333333.3333333, "333333333.3333333")]
        for (n, text) in numbers { XCTAssertEqual(CanonicalJSON.number(n), text, "\(n)") }
        let value = try StrictJSONParser.parse(Array(#"{"b":[1.0,"\u0041\n\u001f"],"a":{"€":1,"\r":2,"1":3,"é":4}}"#.utf8))
        XCTAssertEqual(CanonicalJSON.serialize(value), "{\"a\":{\"\\r\":2,\"1\":3,\"é\":4,\"€\":1},\"b\":[1,\"A\\n\\u001f\"]}")
        // UTF-16 order, not UTF-8's: U+1F600 (surrogates D83D DE00) sorts before U+E000, though
        // its UTF-8 (F0 …) is after U+E000's (EE …); ASCII names sort bytewise.
        let wide: JSONValue = .object(["\u{E000}": .number(1), "\u{1F600}": .number(2), "b": .number(3), "aa": .number(4), "a": .number(5)])
        XCTAssertEqual(CanonicalJSON.serialize(wide), "{\"a\":5,\"aa\":4,\"b\":3,\"\u{1F600}\":2,\"\u{E000}\":1}")
    }
}
