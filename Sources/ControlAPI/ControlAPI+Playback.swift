import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// Playback (docs/api.md, "Playback"): each channel's HLS URL, signed playback with tokens
/// minted here or by the App Server with a signing key, and the keys themselves.
extension ControlAPI {
    /// `publicHttpUrl/hls/CHANNEL/index.m3u8`: where players read the channel.
    func hlsURL(_ channelId: String) -> String { configuration.publicHttpUrl + "/hls/" + channelId + "/index.m3u8" }

    /// `POST /v1/channels/{id}/playback-tokens`: a token for this channel, signed with the newest
    /// signing key (one is made the first time, if the App Server has made none).
    func createPlaybackToken(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let channelId = try await existingChannel(context)
        var body = try await BodyReader.readOptional(request)
        body.restrict(to: ["expiresInSec"], readOnly: [])
        let lifetime = (body.int("expiresInSec", in: 1...604_800) ?? nil) ?? 3600
        try body.check()
        let key: SigningKey
        if let newest = try await store.signingKeys().first {
            key = newest
        } else {
            key = SigningKey(id: Identifiers.make("sk"), secret: Identifiers.tokenSecret(), createdAt: Date())
            try await store.createSigningKey(key)
            context.logger.info("playback signing key made for the first token", metadata: ["key.id": "\(key.id)"])
        }
        let expiresAt = Int(Date().timeIntervalSince1970) + lifetime
        guard let token = PlaybackToken.mint(.init(keyId: key.id, channelId: channelId, expiresAt: expiresAt), secret: key.secret) else {
            throw APIError.internalError
        }
        return Envelope.response(.created, data: .object([
            "token": .string(token), "keyId": .string(key.id), "channelId": .string(channelId),
            "expiresAt": .string(Timestamp.format(Date(timeIntervalSince1970: Double(expiresAt)))),
            "hlsUrl": .string(hlsURL(channelId) + "?token=" + token),
        ]))
    }

    func render(_ key: SigningKey, includeSecret: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(key.id), "createdAt": .string(Timestamp.format(key.createdAt))]
        if includeSecret { o["secret"] = .string(key.secret) }
        return .object(o)
    }

    func createSigningKey() async throws -> Response {
        let key = SigningKey(id: Identifiers.make("sk"), secret: Identifiers.tokenSecret(),
                             createdAt: Timestamp.parse(Timestamp.format(Date())))
        try await store.createSigningKey(key)
        return Envelope.response(.created, data: render(key, includeSecret: true))
    }

    func listSigningKeys() async throws -> Response {
        Envelope.response(data: .object(["items": .array(try await store.signingKeys().map { render($0) }), "nextCursor": .null]))
    }

    func deleteSigningKey(_ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard try await store.deleteSigningKey(id: id) else { throw APIError.notFound("signing key") }
        playbackCache.forgetKey(id)
        context.logger.info("playback signing key deleted: its tokens no longer play", metadata: ["key.id": "\(id)"])
        return Envelope.noContent()
    }

    /// 403 unless this HLS request may play `channelId`: always for a public channel; for a
    /// signed one, only with a valid token (`?token=`).
    func checkPlayback(_ request: Request, channelId: String) async throws -> String? {
        let policy = try await playbackCache.policy(channelId) { try await store.channel(id: channelId)?.playbackPolicy }
        guard policy == .signed else { return nil }
        let token: String? = request.uri.queryParameters.get("token").map { String($0) }
        let refusal = try await PlaybackToken.refusal(token, channelId: channelId, now: Date()) { id in
            try await playbackCache.key(id) { try await store.signingKey(id: id) }
        }
        if let refusal {
            throw APIError(.forbidden, ec: 4030, refusal.rawValue, data: .object(["reason": .string("\(refusal)")]))
        }
        return token
    }

    /// A signed channel's playlist, its URIs carrying the token on: segment and variant lines,
    /// and the `URI="…"` of `EXT-X-MAP` (fMP4 initialization) and `EXT-X-MEDIA` (audio
    /// renditions). A player that was given `index.m3u8?token=…` needs nothing else.
    static func playlist(_ text: String, token: String) -> String {
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? token
        func signed(_ uri: String) -> String { uri + (uri.contains("?") ? "&" : "?") + "token=" + encoded }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let l = String(line)
            guard !l.isEmpty else { return l }
            guard l.hasPrefix("#") else { return signed(l) }
            guard let start = l.range(of: "URI=\""), let end = l[start.upperBound...].firstIndex(of: "\"") else { return l }
            return String(l[..<start.upperBound]) + signed(String(l[start.upperBound..<end])) + String(l[end...])
        }.joined(separator: "\n")
    }
}

/// What the HLS route reads on every request, kept briefly: a channel's playback policy and
/// the signing keys (a segment request must not cost a store round trip each). A change through
/// this node applies at once; through another node within `ttl`.
final class PlaybackCache: Sendable {
    static let ttl: TimeInterval = 2
    static let capacity = 10_000
    private let policies = NIOLockedValueBox([String: (Channel.PlaybackPolicy?, Date)]())
    private let keys = NIOLockedValueBox([String: (SigningKey, Date)]())

    func policy(_ channelId: String, load: () async throws -> Channel.PlaybackPolicy?) async throws -> Channel.PlaybackPolicy? {
        let now = Date()
        if let (policy, until) = policies.withLockedValue({ $0[channelId] }), until > now { return policy }
        let policy = try await load()
        policies.withLockedValue { table in
            if table.count >= Self.capacity { table.removeAll() }
            table[channelId] = (policy, now.addingTimeInterval(Self.ttl))
        }
        return policy
    }

    func key(_ id: String, load: () async throws -> SigningKey?) async throws -> SigningKey? {
        let now = Date()
        if let (key, until) = keys.withLockedValue({ $0[id] }), until > now { return key }
        // Unknown ids are not remembered: a key made on another node works at once.
        guard let key = try await load() else { return nil }
        keys.withLockedValue { table in
            if table.count >= Self.capacity { table.removeAll() }
            table[id] = (key, now.addingTimeInterval(Self.ttl))
        }
        return key
    }

    func forgetChannel(_ id: String) { _ = policies.withLockedValue { $0.removeValue(forKey: id) } }
    func forgetKey(_ id: String) { _ = keys.withLockedValue { $0.removeValue(forKey: id) } }
}
