import LiveGateModel
import Foundation
import XCTest

/// The JSON the store keeps (channel metadata, tags, event bodies, session media and
/// connections) is written by `CanonicalJSON` and read by `StrictJSONParser`, no longer by
/// Foundation's `JSONEncoder`/`JSONDecoder`. Foundation stays the independent judge: what we
/// write it reads back as the same value, and what it wrote (every row stored before) we read
/// back as it does.
final class StoredJSONTests: XCTestCase {
    private var generator = SystemRandomNumberGenerator()

    private func randomValue(depth: Int = 0) -> JSONValue {
        let pick = Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &generator)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
            case 1: return .number(Double.random(in: -1e6...1e6, using: &generator))
            case 2: return .number([0.1, 1e-7, 1.5e-7, 123456789012345.6, 1e21, 1e300, -0.0, Double.leastNonzeroMagnitude][Int.random(in: 0..<8, using: &generator)])
            default: return .number(Double(Int64.random(in: -(1 << 53)...(1 << 53), using: &generator)))
            }
        case 3: return .string(randomString())
        case 4: return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in randomValue(depth: depth + 1) })
        default:
            var o: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<5, using: &generator) { o[randomString()] = randomValue(depth: depth + 1) }
            return .object(o)
        }
    }

    private func randomString() -> String {
        let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}",
                                      "é", "€", "\u{2028}", "\u{FEFF}", "\u{1F600}", "ไ", "<", "&"]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0..<12, using: &generator) { s.append(pool[Int.random(in: 0..<pool.count, using: &generator)]) }
        return String(s)
    }

    func testWhatWeWriteFoundationReadsAsTheSameValueAndWhatFoundationWroteWeRead() throws {
        let legacy = JSONEncoder()
        legacy.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for _ in 0..<3_000 {
            let value = randomValue()
            let text = value.jsonText
            XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)), value, text)
            XCTAssertEqual(JSONValue.parse(text), value, text)
            // A row written by an earlier release (Foundation's encoder, as `jsonText` was).
            let old = String(decoding: try legacy.encode(value), as: UTF8.self)
            XCTAssertEqual(JSONValue.parse(old), try JSONDecoder().decode(JSONValue.self, from: Data(old.utf8)), old)
        }
    }

    func testKeysSortedCompactAndNoNumberFoundationCannotRead() {
        XCTAssertEqual(JSONValue.object(["b": .number(1), "a": .array([.string("x/y"), .null, .bool(false)]), "c": .number(0.5)]).jsonText,
                       #"{"a":["x/y",null,false],"b":1,"c":0.5}"#)
        XCTAssertEqual(JSONValue.array([.number(.nan), .number(.infinity)]).jsonText, "[null,null]", "no JSON spelling: null, not `nan`")
        XCTAssertNil(JSONValue.parse(#"{"a":1,"a":2}"#), "a repeated member is not what the store writes")
        XCTAssertNil(JSONValue.parse("nan"))
        XCTAssertNil(JSONValue.parse(""))
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertNotNil(JSONValue.parse(deep), "stored JSON may nest deeper than a request body")
    }
}
