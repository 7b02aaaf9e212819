@testable import ChannelStore
import LiveGateModel
import XCTest

/// The body PostgreSQL's event function joins around its number (migration 23) must be the
/// text the body renders with that number, wherever and however often the number appears.
final class EventBodyTemplateTests: XCTestCase {
    func testPartsJoinedWithTheNumberAreTheRendering() throws {
        let bodies: [(Int64) -> JSONValue] = [
            { .object(["seq": .number(Double($0)), "data": .object(["a": .string("b")])]) },
            // Twice, once in a nested object; beside numbers and strings that look like sentinels.
            { .object(["seq": .number(Double($0)), "copy": .object(["seq": .number(Double($0))]), "x": .number(111_111_111_111_111),
                       "s": .string("222222222222222")]) },
            { .array([.number(Double($0)), .string("\"é\"")]) },
        ]
        for body in bodies {
            let parts = try XCTUnwrap(EventBodyTemplate.parts(of: body))
            for seq: Int64 in [1, 42, 9_999, 123_456_789_012] {
                XCTAssertEqual(parts.joined(separator: String(seq)), body(seq).jsonText)
            }
        }
    }

    func testABodyWithoutItsNumberOrWithItElsewhereHasNoTemplate() {
        XCTAssertNil(EventBodyTemplate.parts(of: { _ in .object(["a": .number(1)]) }), "no number: nothing to join around")
        XCTAssertNil(EventBodyTemplate.parts(of: { .object(["seq": .number(Double($0 * 2))]) }), "not the number itself")
        XCTAssertNil(EventBodyTemplate.parts(of: { .object(["a": .string(String(repeating: "x", count: Int($0 % 7)))]) }), "renderings of other lengths")
    }
}
