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
        /// made, its `data` and its bytes (so an answer made and then not returned is not
        /// taken for the one that was).
        var last: (data: JSONValue, body: ByteBuffer)?
    }

    @TaskLocal static var capture: DataCapture?

    static func response(_ status: HTTPResponse.Status = .ok, data: JSONValue, ec: Int = 0, msg: String = "ok", headers: HTTPFields = [:]) -> Response {
        let envelope = JSONValue.object(["ec": .number(Double(ec)), "data": data, "msg": .string(msg)])
        let body = ByteBuffer(string: envelope.jsonText)
        capture?.last = (data, body)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }

    static func error(_ e: APIError) -> Response {
        response(e.status, data: e.data, ec: e.ec, msg: e.message, headers: e.headers)
    }

    static func noContent() -> Response { Response(status: .noContent) }
}
