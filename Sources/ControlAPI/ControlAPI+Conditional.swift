import LiveGateModel
import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird

/// `ETag`, `Last-Modified`, `If-None-Match` and `If-Match` on channels, webhooks and videos
/// (docs/api.md, "Conditional requests"); video files handle theirs, with `If-Range`, in
/// `videoFile`.
extension ControlAPI {
    /// The paths whose GET answers carry validators and whose PUT/PATCH/DELETE honour `If-Match`.
    static let conditionalPaths: Set<String> = ["/v1/channels/{id}", "/v1/webhooks/{id}", "/v1/videos/{id}"]

    func conditional(_ request: Request, _ context: APIRequestContext, route: APIRoute, read: APIRoute.Handler) async throws -> Response {
        if route.method == .get {
            let response = try await route.handler(request, context)
            guard response.status == .ok, let (bytes, data) = try await Self.collect(response) else { return response }
            let validators = ConditionalRequest.validators(of: data)
            if let header = request.headers[ConditionalRequest.ifNoneMatch], ConditionalRequest.noneMatchFails(header, validators.etag) {
                return Response(status: .notModified, headers: validators.headers)
            }
            var headers = response.headers
            headers.append(contentsOf: validators.headers)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
        }
        if let header = request.headers[ConditionalRequest.ifMatch] {
            // The current representation, as a GET would show it to this token (404 = none).
            var current: String?
            do {
                let answer = try await read(request, context)
                if answer.status == .ok, let (_, data) = try await Self.collect(answer) { current = ConditionalRequest.validators(of: data).etag }
            } catch let error as APIError where error.status == .notFound {
                current = nil
            }
            guard ConditionalRequest.matches(header, current) else { throw ConditionalRequest.preconditionFailed(current) }
        }
        let response = try await route.handler(request, context)
        guard response.status == .ok, let (bytes, data) = try await Self.collect(response) else { return response }
        var headers = response.headers
        headers.append(contentsOf: ConditionalRequest.validators(of: data).headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// A JSON answer's bytes and its envelope's `data`.
    static func collect(_ response: Response) async throws -> (ByteBuffer, JSONValue)? {
        let collector = CollectingBodyWriter()
        try await response.body.write(collector.writer)
        let bytes = collector.buffer.value
        guard case .object(let envelope)? = try? StrictJSONParser.parse(bytes.readableBytesView), let data = envelope["data"] else { return nil }
        return (bytes, data)
    }
}
