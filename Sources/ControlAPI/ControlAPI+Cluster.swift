import ChannelStore
import Foundation
import HTTPTypes
import Hummingbird
import LiveGateModel
import NIOCore

/// What any node serves of what another node holds, and the internal endpoints the nodes
/// fetch it from (docs/contract.md §7, "Files on several nodes").
extension ControlAPI {
    static let peerUnavailable = APIError(.serviceUnavailable, ec: 5030, "the node holding this file cannot be reached; retry shortly",
                                          headers: [.retryAfter: "1"])

    // MARK: Which node holds it

    /// The node to fetch an HLS file from, or nil when this node serves it itself: a segment
    /// from the node its name carries, a playlist from the node holding the channel's session.
    func hlsPeer(channel: String, file: String, playlist: Bool) async -> NodeRecord? {
        guard let relay = configuration.peers else { return nil }
        let me = relay.settings.nodeId
        if !playlist {
            guard let tag = NodeTag.inSegmentName(file), tag != NodeTag.of(me) else { return nil }
            // A node no longer listed: only a copy here (shared storage) can answer.
            guard let node = await relay.node(tag: tag), node.id != me else { return nil }
            return node
        }
        guard let holder = await relay.hlsHolder(channelId: channel), holder != me else { return nil }
        return await relay.node(id: holder)
    }

    /// A playlist or segment fetched from `node` (one fetch shared by all its viewers).
    func relayedHLS(_ node: NodeRecord, channel: String, file: String, token: String?, contentType: String, cacheControl: String) async throws -> Response {
        guard let relay = configuration.peers else { throw APIError.notFound("file") }
        let playlist = contentType == "application/vnd.apple.mpegurl"
        let download = relay.hls(node: node, channel: channel, file: file, playlist: playlist)
        switch await download.head() {
        case .unreachable:
            // The holder is down: a playlist is tried again by the player; a segment only it
            // had is gone (it drops out of the next playlist).
            if playlist { throw Self.peerUnavailable }
            throw APIError.notFound("file")
        case .answered(let status, let headers):
            guard status == 200 else { throw APIError.notFound("file") }
            var fields: HTTPFields = [.contentType: contentType, .cacheControl: cacheControl, .accessControlAllowOrigin: "*"]
            if playlist {
                let whole = try await download.whole()
                var text = String(buffer: whole)
                if let token { text = Self.playlist(text, token: token) }
                fields[.contentLength] = String(text.utf8.count)
                return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
            }
            let length = headers["content-length"].flatMap(Int.init)
            if let length { fields[.contentLength] = String(length) }
            return Response(status: .ok, headers: fields, body: Self.streamed(download, contentLength: length))
        }
    }

    /// The body of a peer's answer, written as its chunks arrive.
    static func streamed(_ download: SharedDownload, contentLength: Int?) -> ResponseBody {
        ResponseBody(contentLength: contentLength) { writer in
            var index = 0
            while let chunk = try await download.chunk(index) {
                try await writer.write(chunk)
                index += 1
            }
            try await writer.finish(nil)
        }
    }

    /// A recording whose file is on another node: its answer (200, 206, 304, 416) passed on.
    func relayedVideo(_ request: Request, video: Video) async throws -> Response? {
        guard let owner = video.nodeId, owner != configuration.nodeId else { return nil }
        guard await fileAvailability()(owner) else {
            throw APIError(.notFound, ec: 4041, "the recording's file was on node \(owner), which is gone (see fileAvailable)",
                           data: .object(["nodeId": .string(owner), "fileAvailable": .bool(false)]))
        }
        guard let relay = configuration.peers else { return nil }
        guard let node = await relay.node(id: owner) else { throw Self.peerUnavailable }
        var headers: [(String, String)] = []
        for name in [HTTPField.Name.range, ConditionalRequest.ifRange, ConditionalRequest.ifNoneMatch] {
            if let value = request.headers[name] { headers.append((name.rawName, value)) }
        }
        let download = relay.video(node: node, id: video.id, headers: headers)
        switch await download.head() {
        case .unreachable:
            throw Self.peerUnavailable
        case .answered(let status, let passed):
            if status == 404 { throw APIError.notFound("video file") }
            var fields = HTTPFields()
            for (name, value) in passed {
                if let field = HTTPField.Name(name) { fields[field] = value }
            }
            let length = passed["content-length"].flatMap(Int.init)
            return Response(status: .init(code: status), headers: fields, body: Self.streamed(download, contentLength: length))
        }
    }

    // MARK: Whether a recording's file can still be had

    /// For each node id: can a file on it still be fetched? A node in the list whose heartbeat
    /// is within `nodeGoneAfter`, or one that stopped cleanly less than that ago; not one the
    /// operator removed, nor one gone longer. Read once per request.
    func fileAvailability() async -> @Sendable (String?) -> Bool {
        let now = Date(), goneAfter = configuration.nodeGoneAfter
        guard let nodes = try? await store.nodes(), let departed = try? await store.departedNodes() else { return { _ in true } }
        let heartbeats = Dictionary(nodes.map { ($0.id, $0.heartbeatAt) }, uniquingKeysWith: { a, _ in a })
        return { nodeId in
            guard let nodeId else { return true }
            if let beat = heartbeats[nodeId] { return now.timeIntervalSince(beat) <= goneAfter }
            guard let left = departed[nodeId], !left.removed else { return false }
            return now.timeIntervalSince(left.departedAt) <= goneAfter
        }
    }

    /// A recording as the API shows it: where its file is, and whether it can still be had.
    func render(_ video: Video, available: Bool) -> JSONValue {
        guard case .object(var o) = video.json else { return video.json }
        o["nodeId"] = video.nodeId.map { .string($0) } ?? .null
        o["fileAvailable"] = .bool(available)
        return .object(o)
    }

    /// `DELETE /v1/system/nodes/{id}`: the operator says a node is gone for good — it leaves
    /// the list, and its recordings say `fileAvailable: false`. Not this node, nor one whose
    /// heartbeat is fresh (409: stop it first).
    func forgetNode(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        if id == configuration.nodeId { throw APIError(.conflict, ec: 4090, "this node cannot remove itself; remove it from another node once it is stopped") }
        if let node = try await store.nodes().first(where: { $0.id == id }), node.isHealthy(at: Date()) {
            throw APIError(.conflict, ec: 4090, "node \(id) is running (heartbeat \(Timestamp.format(node.heartbeatAt))); stop it first")
        }
        guard try await store.forgetNode(id: id, now: Date()) else { throw APIError.notFound("node") }
        return Envelope.noContent()
    }

    /// `POST /v1/system/drain`: this node refuses new publishes (`/readyz/ingest` 503), keeps
    /// its publishers until they left or `shutdown.drainSec` passed, then stops — handing its
    /// sessions over, as at a SIGTERM — and exits. A second call reports the drain under way.
    func drainNode() async throws -> Response {
        guard let drain = configuration.drain else { throw APIError(.conflict, ec: 4090, "this server cannot be drained (no gateway behind this API)") }
        let (publishers, stopsBy) = await drain()
        return Envelope.response(.accepted, data: .object(["nodeId": .string(configuration.nodeId), "draining": .bool(true),
                                                         "publishers": .number(Double(publishers)), "stopsBy": .string(Timestamp.format(stopsBy))]))
    }

    // MARK: Internal endpoints

    /// Refuses anything not signed by a node of this cluster (403, logged), before any lookup.
    func checkPeer(_ request: Request) throws {
        guard let relay = configuration.peers else { throw APIError.notFound("route") }
        let path = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let header = { (name: String) in HTTPField.Name(name).flatMap { request.headers[$0] } }
        if let why = ClusterSignature.refusal(node: header(ClusterSignature.nodeHeader), time: header(ClusterSignature.timeHeader),
                                              signature: header(ClusterSignature.signatureHeader), method: request.method.rawValue,
                                              path: path, secret: relay.settings.secret, now: Date()) {
            throw APIError(.forbidden, ec: 4032, "node-to-node endpoint: \(why)")
        }
    }

    /// `GET /internal/v1/hls/{channel}/{file}`: this node's own file, for another node.
    func internalHLSFile(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        let channel = try parameter(context, "channel"), file = try parameter(context, "file")
        guard let kind = Self.hlsKind(file), Self.safeHLSName(channel), Self.safeHLSName(file) else { throw APIError.notFound("file") }
        return try await localHLSFile(channel: channel, file: file, token: nil, contentType: kind.contentType, cacheControl: kind.cacheControl, context: context)
    }

    /// `GET /internal/v1/videos/{id}/file`: a recording this node holds, with `Range`.
    func internalVideoFile(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        guard let video = try await store.video(id: try parameter(context, "id")) else { throw APIError.notFound("video") }
        return try await localVideoFile(request, video: video, context: context)
    }
}
