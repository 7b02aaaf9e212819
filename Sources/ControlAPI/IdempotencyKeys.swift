import LiveGateModel
import ChannelStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `Idempotency-Key` on every POST that creates (docs/contract.md §4): an App Server retrying after a
/// timeout gets the first answer again instead of a second channel. Per token, 24 h; the same
/// key with another body (compared as canonical JSON) or on another operation is 422, saying
/// which; a retry while the first is still running is 409. 5xx answers and refusals of invalid
/// input are not kept (docs/api.md, "Idempotency").
extension ControlAPI {
    static let idempotencyHeader = HTTPField.Name("Idempotency-Key")!
    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!
    /// Statuses of a request refused as invalid before it changed anything: 400, 413, 415, 422.
    static let refusedBeforeRunning: Set<Int> = [400, 413, 415, 422]

    func idempotent(_ request: Request, _ context: APIRequestContext, route: APIRoute, run: (Request, APIRequestContext) async throws -> Response)
        async throws -> Response {
        guard let key = request.headers[Self.idempotencyHeader], let grant = context.grant else { return try await run(request, context) }
        guard (1...255).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: BodyReader.maxBodyBytes)
        } catch {
            throw APIError.payloadTooLarge
        }
        // The body as canonical JSON (RFC 8785): reordered keys or other whitespace are the same
        // request. A body that is not JSON is compared byte for byte (it is refused anyway).
        let canonical = (try? StrictJSONParser.parse(body.readableBytesView)).map { Array(CanonicalJSON.serialize($0).utf8) } ?? Array(body.readableBytesView)
        let hash = Hex.lowercase(SHA256.hash(data: canonical))
        let claim = IdempotentRequest(tokenId: grant.tokenId, key: key, method: request.method.rawValue, path: request.uri.path, bodyHash: hash)
        switch try await store.claimIdempotencyKey(claim, now: Date()) {
        case .replay(let status, let response):
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[Self.replayedHeader] = "true"
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: response)))
        case .mismatch(.operation):
            throw APIError(.unprocessableContent, ec: 4220, "this Idempotency-Key was used for another operation (another method or path)",
                           data: .object(["fields": .object(["Idempotency-Key": .string("was used for another operation (method or path)")])]))
        case .mismatch(.body):
            throw APIError(.unprocessableContent, ec: 4220, "this Idempotency-Key was used with another request body",
                           data: .object(["fields": .object(["Idempotency-Key": .string("was used with another request body")])]))
        case .inProgress:
            throw APIError(.conflict, ec: 4090, "a request with this Idempotency-Key is still in progress", headers: [.retryAfter: "1"])
        case .claimed:
            break
        }
        let response: Response
        do {
            response = try await run(request, context)
        } catch let error as APIError where error.status.code < 500 {
            response = Envelope.error(error)
        } catch {
            try? await store.releaseIdempotencyKey(tokenId: grant.tokenId, key: key)
            throw error
        }
        // Not kept: a 5xx (the retry runs again), and a request refused as invalid before it
        // did anything — bad JSON, a wrong media type, an oversized body, invalid fields — so
        // the corrected request can use the same key (as Stripe does).
        guard response.status.code < 500, !Self.refusedBeforeRunning.contains(Int(response.status.code)) else {
            try? await store.releaseIdempotencyKey(tokenId: grant.tokenId, key: key)
            return response
        }
        // Keep the answer's bytes, and answer with them.
        let collector = CollectingBodyWriter()
        try await response.body.write(collector.writer)
        let bytes = collector.buffer
        try await store.completeIdempotencyKey(tokenId: grant.tokenId, key: key, status: Int(response.status.code), response: String(buffer: bytes.value))
        return Response(status: response.status, headers: response.headers, body: .init(byteBuffer: bytes.value))
    }
}

/// Collects a response body into one buffer.
struct CollectingBodyWriter {
    final class Box: @unchecked Sendable { var value = ByteBuffer() }
    let buffer = Box()

    struct Writer: ResponseBodyWriter {
        let box: Box
        mutating func write(_ buffer: ByteBuffer) async throws {
            var b = buffer
            box.value.writeBuffer(&b)
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    var writer: Writer { Writer(box: buffer) }
}
