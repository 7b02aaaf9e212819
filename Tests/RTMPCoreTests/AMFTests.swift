import NIOCore
import RTMPCore
import XCTest

final class AMFTests: XCTestCase {
    func roundTrip(_ value: AMFValue) throws -> AMFValue {
        var buffer = ByteBuffer()
        AMF0Encoder.encode(value, into: &buffer)
        var decoder = AMF0Decoder()
        let decoded = try decoder.decode(&buffer)
        XCTAssertEqual(buffer.readableBytes, 0)
        return decoded
    }

    func testEveryAMF0TypeRoundTrips() throws {
        let values: [AMFValue] = [
            .number(3.25), .number(-0.0), .boolean(true), .boolean(false), .string(""), .string("héllo"),
            .string(String(repeating: "x", count: 70_000)), // becomes a long string
            .object(["a": .number(1), "b": .object(["c": .null])]),
            .typedObject(className: "flex.Thing", ["x": .undefined]),
            .ecmaArray(["duration": .number(0), "width": .number(1280)]),
            .strictArray([.number(1), .string("two"), .null]),
            .date(millisecondsSince1970: 1_700_000_000_000, timeZone: 0),
            .null, .undefined, .reference(3), .xmlDocument("<a/>"),
        ]
        for value in values { XCTAssertEqual(try roundTrip(value), value) }
    }

    func testECMAArrayCountIsAdvisory() throws {
        // Count says 5 but there are 2 members and an end marker: accepted as 2.
        var b = ByteBuffer(bytes: [0x08, 0, 0, 0, 5])
        for (k, v) in [("a", 1.0), ("b", 2.0)] {
            b.writeInteger(UInt16(1)); b.writeString(k); b.writeInteger(UInt8(0)); b.writeInteger(v.bitPattern)
        }
        b.writeBytes([0, 0, 9])
        var d = AMF0Decoder()
        XCTAssertEqual(try d.decode(&b), .ecmaArray(["a": .number(1), "b": .number(2)]))
    }

    func testStrictArrayCountLargerThanDataIsRejected() {
        var b = ByteBuffer(bytes: [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05])
        var d = AMF0Decoder()
        XCTAssertThrowsError(try d.decode(&b))
    }

    func testLongStringLengthBeyondDataIsRejected() {
        var b = ByteBuffer(bytes: [0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 0x41])
        var d = AMF0Decoder()
        XCTAssertThrowsError(try d.decode(&b)) { XCTAssertTrue(String(describing: $0).contains("overruns")) }
    }

    func testDeepNestingIsBounded() {
        var b = ByteBuffer()
        for _ in 0..<10_000 { b.writeInteger(UInt8(0x03)); b.writeInteger(UInt16(1)); b.writeString("a") }
        var d = AMF0Decoder()
        XCTAssertThrowsError(try d.decode(&b)) { XCTAssertTrue(String(describing: $0).contains("nesting deeper")) }
    }

    func testTruncatedValuesThrow() {
        for bytes: [UInt8] in [[0x00, 1, 2], [0x02, 0, 5, 65], [0x03, 0, 1, 65], [0x0B, 0, 0], [0x10, 0, 9], [0x04], [0x0E], [0x09]] {
            var b = ByteBuffer(bytes: bytes)
            var d = AMF0Decoder()
            XCTAssertThrowsError(try d.decode(&b), "\(bytes)")
        }
    }

    func testAMF3ValuesInsideAvmplusMarker() throws {
        var b = ByteBuffer()
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x04, 0x7F])                // integer 127
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x04, 0xFF, 0xFF, 0xFF, 0xFF]) // integer -1 (29-bit)
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x06, 0x07] + Array("abc".utf8)) // string "abc"
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x06, 0x00])                // string reference 0 → "abc"
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x09, 0x05, 0x01, 0x04, 0x01, 0x02]) // dense array [1, false]
        b.writeInteger(UInt8(0x11)); b.writeBytes([0x0C, 0x07, 1, 2, 3])       // byte array
        var d = AMF0Decoder()
        XCTAssertEqual(try d.decodeAll(&b), [.number(127), .number(-1), .string("abc"), .string("abc"),
                                              .strictArray([.number(1), .boolean(false)]), .byteArray([1, 2, 3])])
    }

    func testAMF3ObjectWithSealedAndDynamicMembersAndTraitReference() throws {
        var b = ByteBuffer()
        b.writeInteger(UInt8(0x11))
        // Object, inline traits, dynamic, 1 sealed member; class "Pt"; sealed "x"; x = 1; dynamic y = 2; end.
        b.writeBytes([0x0A, 0x1B, 0x05] + Array("Pt".utf8) + [0x03] + Array("x".utf8) + [0x04, 0x01]
                     + [0x03] + Array("y".utf8) + [0x04, 0x02] + [0x01])
        b.writeInteger(UInt8(0x11))
        // Second object using traits reference 0 (header 0b01 → U29 0x01): x = 5, no dynamic members.
        b.writeBytes([0x0A, 0x01, 0x04, 0x05, 0x01])
        b.writeInteger(UInt8(0x11))
        b.writeBytes([0x0A, 0x02]) // object reference 1 → the second object
        var d = AMF0Decoder()
        let values = try d.decodeAll(&b)
        XCTAssertEqual(values[0], .typedObject(className: "Pt", ["x": .number(1), "y": .number(2)]))
        XCTAssertEqual(values[1], .typedObject(className: "Pt", ["x": .number(5)]))
        XCTAssertEqual(values[2], values[1])
    }

    func testAMF3BadReferencesThrow() {
        for bytes: [UInt8] in [[0x11, 0x06, 0x02], [0x11, 0x0A, 0x04], [0x11, 0x0A, 0x05], [0x11, 0x0D], [0x11, 0x0A, 0x07, 0x01]] {
            var b = ByteBuffer(bytes: bytes)
            var d = AMF0Decoder()
            XCTAssertThrowsError(try d.decode(&b), "\(bytes)")
        }
    }
}
