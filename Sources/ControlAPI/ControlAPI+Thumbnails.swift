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
        let width = QueryReader(request: request).string("width").flatMap { Int($0) }
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

    /// `GET /v1/videos/{id}/thumbnail.jpg`: the recording's poster, made when it was finished;
    /// from the node holding the file when that is another.
    func videoPoster(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let video = try await store.video(id: try parameter(context, "id")) else { throw APIError.notFound("video") }
        if let local = try? Data(contentsOf: URL(fileURLWithPath: video.path + ".jpg")) {
            return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=86400", .contentLength: String(local.count),
                                                   .eTag: "\"\(video.id)-poster-\(local.count)\""],
                            body: .init(byteBuffer: ByteBuffer(bytes: local)))
        }
        if let owner = video.nodeId, owner != configuration.nodeId, let relay = configuration.peers, let node = await relay.node(id: owner) {
            let download = relay.fetch(node: node, path: "/internal/v1/videos/\(video.id)/thumbnail.jpg")
            if case .answered(let status, let headers) = await download.head() {
                var fields = HTTPFields()
                for (name, value) in headers { if let field = HTTPField.Name(name) { fields[field] = value } }
                return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: try await download.whole()))
            }
            throw APIError(.serviceUnavailable, ec: 5030, "the node holding this recording cannot be reached; retry shortly", headers: [.retryAfter: "1"])
        }
        // Just finished: its poster is being made.
        if Date().timeIntervalSince(video.createdAt) < 30 {
            throw APIError(.serviceUnavailable, ec: 5030, "the poster is being made; retry shortly", headers: [.retryAfter: "1"])
        }
        throw APIError(.notFound, ec: 4040, "this recording has no poster (its first keyframe could not be decoded, or it was recorded before posters)")
    }

    /// `GET /internal/v1/videos/{id}/thumbnail.jpg`: a poster this node holds.
    func internalVideoPoster(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        guard let video = try await store.video(id: try parameter(context, "id")),
              let local = try? Data(contentsOf: URL(fileURLWithPath: video.path + ".jpg")) else { throw APIError.notFound("poster") }
        return Response(status: .ok, headers: [.contentType: "image/jpeg", .contentLength: String(local.count)], body: .init(byteBuffer: ByteBuffer(bytes: local)))
    }

    /// `GET /internal/v1/channels/{id}/thumbnail.jpg`: this node's picture, for another node.
    func internalThumbnail(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        let id = try parameter(context, "id")
        let width = QueryReader(request: request).string("width").flatMap { Int($0) }
        return try Self.thumbnailResponse(await sessions.thumbnail(id, width: width))
    }
}
