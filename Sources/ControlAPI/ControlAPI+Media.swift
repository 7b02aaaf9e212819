import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Forwards (push targets), videos (recordings) and HLS playback: docs/contract.md §3 and the
/// forwards/videos rows of §4.
extension ControlAPI {
    // MARK: Forwards

    /// `rtmp://` or `rtmps://` with a host and an app path; credentials are not accepted in the
    /// URL (RTMP servers take them in the stream key).
    static func forwardURLProblem(_ raw: String, blockPrivateNetworks: Bool) -> String? {
        guard let c = URLComponents(string: raw), let scheme = c.scheme, scheme == "rtmp" || scheme == "rtmps" else {
            return "must be an rtmp:// or rtmps:// URL"
        }
        guard let host = c.host, !host.isEmpty else { return "must include a host" }
        if c.user != nil || c.password != nil { return "must not contain credentials" }
        if let port = c.port, !(1...65535).contains(port) { return "has an invalid port" }
        if c.percentEncodedPath.split(separator: "/").isEmpty { return "must include an application path (rtmp://host/app/key)" }
        if raw.contains(where: { $0.isWhitespace }) { return "must not contain whitespace" }
        guard InputRules.wholeMatch(raw, InputRules.forwardURLPattern) else {
            return "must be an rtmp(s) URL of ASCII characters: host, optional port 1-65535, /app and the stream key"
        }
        if blockPrivateNetworks, let why = privateHostProblem(host) { return why }
        return nil
    }

    private func forwardFields(_ body: inout BodyReader, requireURL: Bool) -> (url: String?, enabled: Bool?, enhanced: Bool?) {
        body.restrict(to: ["url", "enabled", "enhanced"], readOnly: ["id", "channelId", "createdAt", "updatedAt", "status"])
        var url: String?
        if let raw = body.string("url", required: requireURL, maxLength: 2048) {
            if let reason = Self.forwardURLProblem(raw, blockPrivateNetworks: configuration.blockPrivateForwards) { body.fail("url", reason) } else { url = raw }
        }
        if body.isNull("url") { body.fail("url", "must not be null") }
        return (url, body.isNull("enabled") ? true : body.bool("enabled"), body.isNull("enhanced") ? false : body.bool("enhanced"))
    }

    func existingChannel(_ context: APIRequestContext) async throws -> String {
        let id = try parameter(context, "id")
        guard try await store.channel(id: id) != nil else { throw APIError.notFound("channel") }
        return id
    }

    /// Live state per forward id, from the running session's outputs.
    private func forwardStatuses(_ channelId: String) async -> [String: JSONValue] {
        var byId: [String: JSONValue] = [:]
        for output in await sessions.outputs(channelId) where output.kind == "forward" {
            guard let id = output.id else { continue }
            byId[id] = output.json
        }
        return byId
    }

    func createForward(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        var body = try await BodyReader.read(request)
        let fields = forwardFields(&body, requireURL: true)
        try body.check()
        let forward = try await store.createForward(id: Identifiers.make("fwd"), channelId: channelId, url: fields.url ?? "",
                                                    enabled: fields.enabled ?? true, enhanced: fields.enhanced ?? false, now: Date())
        await sessions.forwardsChanged(channelId)
        return Envelope.response(.created, data: render(forward))
    }

    func listForwards(_ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        let statuses = await forwardStatuses(channelId)
        let items = try await store.forwards(channelId: channelId).map { render($0, status: statuses[$0.id] ?? .null) }
        return Envelope.response(data: .object(["items": .array(items), "nextCursor": .null]))
    }

    func getForward(_ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        guard let forward = try await store.forward(id: try parameter(context, "fid"), channelId: channelId) else { throw APIError.notFound("forward") }
        return Envelope.response(data: render(forward, status: await forwardStatuses(channelId)[forward.id] ?? .null))
    }

    func patchForward(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        let fid = try parameter(context, "fid")
        var body = try await BodyReader.read(request)
        let fields = forwardFields(&body, requireURL: false)
        try body.check()
        guard let forward = try await store.updateForward(id: fid, channelId: channelId, url: fields.url, enabled: fields.enabled,
                                                             enhanced: fields.enhanced, now: Date()) else {
            throw APIError.notFound("forward")
        }
        await sessions.forwardsChanged(channelId)
        return Envelope.response(data: render(forward))
    }

    func deleteForward(_ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        guard try await store.deleteForward(id: try parameter(context, "fid"), channelId: channelId) else { throw APIError.notFound("forward") }
        await sessions.forwardsChanged(channelId)
        return Envelope.noContent()
    }

    // MARK: Videos

    func listVideos(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var q = try QueryReader(request: request).channelQuery(newestFirst: true)
        let (user, empty) = listUser(q.userId, context)
        if empty { return Envelope.response(data: .object(["items": .array([]), "nextCursor": .null])) }
        q.userId = user
        let available = await fileAvailability()
        return Envelope.response(data: page(try await store.searchVideos(q)) { render($0, available: available($0.nodeId)) })
    }

    func getVideo(_ context: APIRequestContext) async throws -> Response {
        guard let video = try await store.video(id: try parameter(context, "id")) else { throw APIError.notFound("video") }
        return Envelope.response(data: render(video, available: await fileAvailability()(video.nodeId)))
    }

    /// The record goes at once; the file's removal is queued for the node that holds it
    /// (applied here and now when that is this node; docs/contract.md §7, "Files on several nodes").
    func deleteVideo(_ context: APIRequestContext) async throws -> Response {
        guard try await store.deleteVideo(id: try parameter(context, "id"), reason: "deleted", now: Date(), byNode: configuration.nodeId) != nil else {
            throw APIError.notFound("video")
        }
        dispatcher?.notify()
        _ = try? await FileDeletionQueue(store: store, nodeId: configuration.nodeId, logger: Logger(label: "livegate.recordings")).apply()
        return Envelope.noContent()
    }

    /// The MP4 itself, with single-range `Range` support (players seek with it) — from this
    /// node's disk (or storage all nodes share), else fetched from the node that recorded it.
    func videoFile(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let video = try await store.video(id: try parameter(context, "id")) else { throw APIError.notFound("video") }
        if !FileManager.default.fileExists(atPath: video.path), let relayed = try await relayedVideo(request, video: video) { return relayed }
        return try await localVideoFile(request, video: video, context: context)
    }

    func localVideoFile(_ request: Request, video: Video, context: APIRequestContext) async throws -> Response {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: video.path),
              let size = (attributes[.size] as? NSNumber)?.intValue else { throw APIError.notFound("video file") }
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes"]
        headers[.contentDisposition] = "inline; filename=\"\(video.id).mp4\""
        // A finished recording never changes: its id and size make a strong tag, and its
        // creation time is its Last-Modified (docs/api.md, "Conditional requests").
        let validators = ConditionalRequest.Validators(etag: "\"\(video.id)-\(size)\"", lastModified: video.createdAt)
        headers.append(contentsOf: validators.headers)
        if let header = request.headers[ConditionalRequest.ifNoneMatch], ConditionalRequest.noneMatchFails(header, validators.etag) {
            return Response(status: .notModified, headers: validators.headers)
        }
        let fileIO = FileIO()
        // If-Range with a validator that is not current: the whole file (RFC 9110 §13.1.5).
        let range = ConditionalRequest.rangeAllowed(request.headers[ConditionalRequest.ifRange], validators) ? request.headers[.range] : nil
        switch Self.byteRange(range, size: size) {
        case .none:
            headers[.contentLength] = String(size)
            if size == 0 { return Response(status: .ok, headers: headers, body: .init()) }
            return Response(status: .ok, headers: headers, body: try await fileIO.loadFile(path: video.path, range: 0...(size - 1), context: context))
        case .unsatisfiable:
            return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(size)", .contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"ec":4160,"data":null,"msg":"range not satisfiable"}"#)))
        case .range(let range):
            headers[.contentLength] = String(range.count)
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            return Response(status: .partialContent, headers: headers, body: try await fileIO.loadFile(path: video.path, range: range, context: context))
        }
    }

    enum ByteRange: Equatable {
        case none
        case unsatisfiable
        case range(ClosedRange<Int>)
    }

    /// RFC 9110 §14.1.2, one range: `bytes=a-b`, `bytes=a-`, `bytes=-n`. Anything else (several
    /// ranges, other units, bad syntax) is ignored and the whole file is sent, as the RFC allows.
    static func byteRange(_ header: String?, size: Int) -> ByteRange {
        guard let header, header.lowercased().hasPrefix("bytes="), !header.contains(",") else { return .none }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .none }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix >= 0 else { return .none }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .range(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int(parts[0]), start >= 0 else { return .none }
        let end = parts[1].isEmpty ? Int.max : Int(parts[1])
        guard let end, end >= start else { return .none }
        guard start < size else { return .unsatisfiable }
        return .range(start...min(end, size - 1))
    }

    // MARK: HLS playback

    /// `GET /hls/CHANNEL_ID/FILE`: public (docs/contract.md §3), names checked so nothing outside
    /// `data/hls/` can be reached; the playlist is never cached, segments briefly. A file
    /// another node holds is fetched from it (docs/contract.md §7, "Files on several nodes").
    func hlsFile(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let channel = try parameter(context, "channel"), file = try parameter(context, "file")
        guard Self.safeHLSName(channel), Self.safeHLSName(file), let kind = Self.hlsKind(file) else { throw APIError.notFound("file") }
        // A signed channel plays only with a valid token, on the playlist and on every segment.
        let token = try await checkPlayback(request, channelId: channel)
        let playlist = kind.contentType == "application/vnd.apple.mpegurl"
        if let peer = await hlsPeer(channel: channel, file: file, playlist: playlist) {
            return try await relayedHLS(peer, channel: channel, file: file, token: playlist ? token : nil,
                                        contentType: kind.contentType, cacheControl: kind.cacheControl)
        }
        return try await localHLSFile(channel: channel, file: file, token: playlist ? token : nil, contentType: kind.contentType,
                                      cacheControl: kind.cacheControl, context: context)
    }

    static func safeHLSName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "_-.".unicodeScalars.contains($0) }
    }

    static func hlsKind(_ file: String) -> (contentType: String, cacheControl: String)? {
        switch (file as NSString).pathExtension {
        case "m3u8": return ("application/vnd.apple.mpegurl", "no-cache, no-store, must-revalidate")
        case "ts": return ("video/mp2t", "public, max-age=60")
        // fMP4 (CMAF) segments and their initialization section (`EXT-X-MAP`).
        case "m4s": return ("video/iso.segment", "public, max-age=60")
        case "mp4": return ("video/mp4", "public, max-age=60")
        default: return nil
        }
    }

    /// A file of this node's `data/hls/`; a playlist with `token` gets it added to each segment.
    func localHLSFile(channel: String, file: String, token: String?, contentType: String, cacheControl: String,
                      context: APIRequestContext) async throws -> Response {
        guard let root = configuration.hlsDirectory else { throw APIError.notFound("file") }
        let path = root + "/" + channel + "/" + file
        if let token {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw APIError.notFound("file") }
            let body = Self.playlist(text, token: token)
            return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: cacheControl, .accessControlAllowOrigin: "*",
                                                   .contentLength: String(body.utf8.count)], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        // Read on NIO's file thread pool (a segment can be megabytes), never on the caller's thread.
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue, size > 0 else {
            throw APIError.notFound("file")
        }
        let body: ResponseBody
        do {
            body = try await FileIO().loadFile(path: path, range: 0...(size - 1), context: context)
        } catch {
            throw APIError.notFound("file") // removed between the two calls (HLS deletes old segments)
        }
        return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: cacheControl, .accessControlAllowOrigin: "*",
                                               .contentLength: String(size)], body: body)
    }
}
