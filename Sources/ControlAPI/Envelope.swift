import LiveGateModel
import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird

/// The `{ec, data, msg}` envelope of every JSON answer (docs/contract.md §4).
enum Envelope {
    /// The `data` of the answer a handler made, for a caller that needs it as a value as well as
    /// rendered (the validators of `ControlAPI.conditional`) — instead of parsing the rendered
    /// bytes back, 6 % of the server's CPU under `wrk` on `GET /v1/channels/{id}` (BENCHMARKS.md,
    /// the "API" items of "Later on 2026-12-05"). Set only by `ControlAPI.answer`.
    final class DataCapture: @unchecked Sendable {
        /// Written and read by one task (the request's), never concurrently: the last answer
        /// made — its `data`, its bytes (so an answer made and then not returned is not taken
        /// for the one that was) and where in them `data`'s canonical bytes are, which the
        /// ETag hashes.
        var last: Rendered?
    }

    struct Rendered {
        var data: JSONValue
        var body: ByteBuffer
        var dataBytes: Range<Int>
    }

    @TaskLocal static var capture: DataCapture?

    /// The envelope is rendered in canonical form (RFC 8785, `CanonicalJSON`): its members sort
    /// as `data`, `ec`, `msg`, so the body is `{"data":` + `data`'s canonical bytes + the rest —
    /// the bytes a resource's ETag is computed over are part of the answer, rendered once.
    static func response(_ status: HTTPResponse.Status = .ok, data: JSONValue, ec: Int = 0, msg: String = "ok", headers: HTTPFields = [:]) -> Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        bytes.append(contentsOf: #"{"data":"#.utf8)
        let start = bytes.count
        CanonicalJSON.append(data, to: &bytes)
        let end = bytes.count
        bytes.append(contentsOf: #","ec":"#.utf8)
        CanonicalJSON.append(.number(Double(ec)), to: &bytes)
        bytes.append(contentsOf: #","msg":"#.utf8)
        CanonicalJSON.append(.string(msg), to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        let body = ByteBuffer(bytes: bytes)
        capture?.last = Rendered(data: data, body: body, dataBytes: start..<end)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }

    static func error(_ e: APIError) -> Response {
        response(e.status, data: e.data, ec: e.ec, msg: e.message, headers: e.headers)
    }

    static func noContent() -> Response { Response(status: .noContent) }
}
