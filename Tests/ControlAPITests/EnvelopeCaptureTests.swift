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
        let fromCapture = try await ControlAPI.collect(response, known: known)
        let fromBytes = try await ControlAPI.collect(response)
        let (_, captured) = try XCTUnwrap(fromCapture)
        let (_, readBack) = try XCTUnwrap(fromBytes)
        XCTAssertEqual(captured, Self.data)
        XCTAssertEqual(ConditionalRequest.validators(of: captured), ConditionalRequest.validators(of: readBack))
        XCTAssertNotNil(ConditionalRequest.validators(of: captured).lastModified)
    }

    func testAnAnswerMadeButNotReturnedIsNotTaken() async throws {
        let capture = Envelope.DataCapture()
        let other: JSONValue = .object(["id": .string("ch_2")])
        let returned = Envelope.$capture.withValue(capture) { () -> Response in
            _ = Envelope.response(data: Self.data)
            // e.g. an answer relayed from another node, not made here
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"data":{"id":"ch_2"},"ec":0,"msg":"ok"}"#)))
        }
        let collected = try await ControlAPI.collect(returned, known: capture.last)
        let (_, data) = try XCTUnwrap(collected)
        XCTAssertEqual(data, other)
    }
}
