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
            let (response, known) = try await Self.answer(route.handler, request, context)
            guard response.status == .ok, let collected = try await Self.collect(response, known: known) else { return response }
            let validators = collected.validators
            if let header = request.headers[ConditionalRequest.ifNoneMatch], ConditionalRequest.noneMatchFails(header, validators.etag) {
                return Response(status: .notModified, headers: validators.headers)
            }
            var headers = response.headers
            headers.append(contentsOf: validators.headers)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: collected.bytes))
        }
        if let header = request.headers[ConditionalRequest.ifMatch] {
            // The current representation, as a GET would show it to this token (404 = none).
            var current: String?
            do {
                let (answer, known) = try await Self.answer(read, request, context)
                if answer.status == .ok, let collected = try await Self.collect(answer, known: known) { current = collected.validators.etag }
            } catch let error as APIError where error.status == .notFound {
                current = nil
            }
            guard ConditionalRequest.matches(header, current) else { throw ConditionalRequest.preconditionFailed(current) }
        }
        let (response, known) = try await Self.answer(route.handler, request, context)
        guard response.status == .ok, let collected = try await Self.collect(response, known: known) else { return response }
        var headers = response.headers
        headers.append(contentsOf: collected.validators.headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: collected.bytes))
    }

    /// Runs a handler and returns its answer with the last `Envelope.response` it made, nil when
    /// it made none.
    static func answer(_ handler: APIRoute.Handler, _ request: Request, _ context: APIRequestContext) async throws -> (Response, Envelope.Rendered?) {
        let capture = Envelope.DataCapture()
        let response = try await Envelope.$capture.withValue(capture) { try await handler(request, context) }
        return (response, capture.last)
    }

    /// A JSON answer's bytes and its envelope's `data`.
    struct Collected {
        var bytes: ByteBuffer
        var data: JSONValue
        /// Where `data`'s canonical bytes are in `bytes`, when the handler rendered them.
        var canonical: Range<Int>?

        /// The validators of `data`: hashed from the bytes already rendered when there are.
        var validators: ConditionalRequest.Validators {
            guard let canonical else { return ConditionalRequest.validators(of: data) }
            return ConditionalRequest.validators(of: data, canonical: bytes.readableBytesView.dropFirst(canonical.lowerBound).prefix(canonical.count))
        }
    }

    /// A JSON answer's bytes and its envelope's `data`: the handler's own `data` when these are
    /// the bytes it was rendered to (no parsing back), else read back from the bytes (a relayed
    /// answer).
    static func collect(_ response: Response, known: Envelope.Rendered? = nil) async throws -> Collected? {
        let collector = CollectingBodyWriter()
        try await response.body.write(collector.writer)
        let bytes = collector.buffer.value
        if let known, known.body == bytes { return Collected(bytes: bytes, data: known.data, canonical: known.dataBytes) }
        guard case .object(let envelope)? = try? StrictJSONParser.parse(bytes.readableBytesView), let data = envelope["data"] else { return nil }
        return Collected(bytes: bytes, data: data, canonical: nil)
    }
}
