import LiveGateModel
import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird

/// The `{ec, data, msg}` envelope of every JSON answer (docs/contract.md §4).
enum Envelope {
    static func response(_ status: HTTPResponse.Status = .ok, data: JSONValue, ec: Int = 0, msg: String = "ok", headers: HTTPFields = [:]) -> Response {
        let body = JSONValue.object(["ec": .number(Double(ec)), "data": data, "msg": .string(msg)])
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body.jsonText)))
    }

    static func error(_ e: APIError) -> Response {
        response(e.status, data: e.data, ec: e.ec, msg: e.message, headers: e.headers)
    }

    static func noContent() -> Response { Response(status: .noContent) }
}
