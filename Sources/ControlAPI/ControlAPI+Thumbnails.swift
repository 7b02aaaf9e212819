import Foundation
import HTTPTypes
import Hummingbird
import LiveGateModel
import NIOCore

/// `GET /v1/channels/{id}/thumbnail.jpg` (docs/contract.md §4, "Thumbnails"): the latest
/// keyframe of a live channel as a JPEG, made by the node carrying it (asked through the
/// signed node-to-node endpoint when that is another node).
extension ControlAPI {
    static let thumbnailWidth = QueryParameter("width", .integer(16...1920), "Width in pixels (even; the height keeps the aspect); default: the picture's own, up to 1920")

    static let notLiveForThumbnail = APIError(.notFound, ec: 4040, "the channel is not live: no picture")

    func channelThumbnail(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.channel(id: id) != nil else { throw APIError.notFound("channel") }
        let width = try QueryReader(request: request).string("width").flatMap { Int($0) }
        let answer = await sessions.thumbnail(id, width: width)
        if answer == .notLive, let relayed = try await relayedThumbnail(channelId: id, width: width) { return relayed }
        return try Self.thumbnailResponse(answer)
    }

    static func thumbnailResponse(_ answer: ThumbnailAnswer) throws -> Response {
        switch answer {
        case .image(let jpeg, let width, let height, let takenAt):
            return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=5", .contentLength: String(jpeg.count),
                                                   HTTPField.Name("X-Thumbnail-Taken-At")!: Timestamp.format(takenAt),
                                                   HTTPField.Name("X-Thumbnail-Size")!: "\(width)x\(height)"],
                            body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        case .notLive:
            throw notLiveForThumbnail
        case .waiting(let after):
            throw APIError(.serviceUnavailable, ec: 5030, "no keyframe held yet: the next one makes the picture; retry shortly",
                           headers: [.retryAfter: String(after)])
        case .busy(let after):
            throw APIError(.serviceUnavailable, ec: 5030, "this node's thumbnail budget (thumbnails.maxDecodesPerSec) is spent; retry shortly",
                           headers: [.retryAfter: String(after)])
        case .failed(let why):
            throw APIError(.serviceUnavailable, ec: 5030, "the keyframe could not be decoded: \(why)", headers: [.retryAfter: "5"])
        }
    }

    /// The picture from the node holding the channel's session, its answer passed on.
    func relayedThumbnail(channelId: String, width: Int?) async throws -> Response? {
        guard let relay = configuration.peers, let lease = try? await store.lease(channelId: channelId), lease.nodeId != relay.settings.nodeId,
              let node = await relay.node(id: lease.nodeId) else { return nil }
        let path = "/internal/v1/channels/\(channelId)/thumbnail.jpg" + (width.map { "?width=\($0)" } ?? "")
        let download = relay.fetch(node: node, path: path)
        switch await download.head() {
        case .unreachable:
            throw APIError(.serviceUnavailable, ec: 5030, "the node carrying this channel cannot be reached; retry shortly", headers: [.retryAfter: "1"])
        case .answered(let status, let headers):
            let body = try await download.whole()
            var fields = HTTPFields()
            for (name, value) in headers {
                if let field = HTTPField.Name(name) { fields[field] = value }
            }
            if status == 503 { fields[.retryAfter] = fields[.retryAfter] ?? "1" }
            return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: body))
        }
    }

    /// `GET /internal/v1/channels/{id}/thumbnail.jpg`: this node's picture, for another node.
    func internalThumbnail(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        let id = try parameter(context, "id")
        let width = try QueryReader(request: request).string("width").flatMap { Int($0) }
        return try Self.thumbnailResponse(await sessions.thumbnail(id, width: width))
    }
}
