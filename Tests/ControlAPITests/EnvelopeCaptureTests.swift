import Crypto
import Foundation
import Hummingbird
import LiveGateModel
import NIOCore
import XCTest
@testable import ControlAPI

/// Validators from the handler's own `data` (no parsing back of the rendered answer) give the
/// same `ETag` as reading the bytes back did — published tags do not change — and an answer a
/// handler made but did not return is never taken for the one it returned.
final class EnvelopeCaptureTests: XCTestCase {
    static let data: JSONValue = .object([
        "id": .string("ch_1"), "name": .string("tab\t\"quote\" é €/slash \u{1F}"), "bitrate": .number(0.1), "big": .number(1e21),
        "count": .number(5), "small": .number(1e-7), "neg": .number(-2.5), "none": .null, "ok": .bool(true),
        "tags": .array([.string("a"), .number(3)]), "nested": .object(["z": .number(1), "a": .object([:])]),
        "updatedAt": .string("2026-12-05T10:00:00.000Z"),
    ])

    func testTheCapturedDataGivesTheTagTheBytesGive() async throws {
        let capture = Envelope.DataCapture()
        let response = Envelope.$capture.withValue(capture) { Envelope.response(data: Self.data) }
        let known = try XCTUnwrap(capture.last)
        let captured = try XCTUnwrapAsync(try await ControlAPI.collect(response, known: known))
        let readBack = try XCTUnwrapAsync(try await ControlAPI.collect(response))
        XCTAssertEqual(captured.data, Self.data)
        XCTAssertNotNil(captured.canonical, "the tag is hashed from the rendered bytes")
        XCTAssertNil(readBack.canonical)
        XCTAssertEqual(readBack.data, Self.data)
        // The tag hashed from the answer's own bytes is the tag of the value's canonical form
        // computed apart (SHA-256 of `CanonicalJSON.serialize`, the first 16 bytes in hex).
        let apart = "\"" + Hex.lowercase(SHA256.hash(data: Data(CanonicalJSON.serialize(Self.data).utf8)).prefix(16)) + "\""
        XCTAssertEqual(captured.validators.etag, apart)
        XCTAssertEqual(readBack.validators, captured.validators)
        XCTAssertNotNil(captured.validators.lastModified)
        // The whole body is the envelope's canonical form: what the tag hashes is inside it.
        let envelope: JSONValue = .object(["data": Self.data, "ec": .number(0), "msg": .string("ok")])
        XCTAssertEqual(String(buffer: captured.bytes), CanonicalJSON.serialize(envelope))
    }

    func testAnAnswerMadeButNotReturnedIsNotTaken() async throws {
        let capture = Envelope.DataCapture()
        let other: JSONValue = .object(["id": .string("ch_2")])
        let returned = Envelope.$capture.withValue(capture) { () -> Response in
            _ = Envelope.response(data: Self.data)
            // e.g. an answer relayed from another node, not made here
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"data":{"id":"ch_2"},"ec":0,"msg":"ok"}"#)))
        }
        let collected = try XCTUnwrapAsync(try await ControlAPI.collect(returned, known: capture.last))
        XCTAssertEqual(collected.data, other)
        XCTAssertNil(collected.canonical, "read back, not the bytes made")
    }
}

private func XCTUnwrapAsync<T>(_ value: T?, file: StaticString = #filePath, line: UInt = #line) throws -> T {
    try XCTUnwrap(value, file: file, line: line)
}
