import Foundation
import Hummingbird
import LiveGateModel

/// `POST /v1/obs/go-live`: OBS's Enhanced Broadcasting configuration URL (docs/contract.md §4,
/// "OBS Enhanced Broadcasting"). Authenticated by the stream key OBS puts in the body
/// (`authentication`), as it sends it, so no API token is involved. Every key that may not go
/// live gets the same answer, and a wrong one counts as a failed publish from that address
/// (`rtmp.failedPublishesPerMinute`, the RTMP listener's own counter): the endpoint cannot be
/// used to test keys faster than RTMP can.
extension ControlAPI {
    func goLive(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let reader = try await BodyReader.read(request)
        let asked: GoLiveConfig.Request
        switch GoLiveConfig.read(reader.object) {
        case .success(let r): asked = r
        case .failure(let problem):
            throw APIError.invalid([problem.field: problem.reason])
        }
        let ip = ClientAddress.resolve(peer: context.remoteAddress, headers: request.headers, trusted: configuration.trustedProxy)
        let refused = Self.goLiveAnswer(GoLiveConfig.refusal(schemaVersion: asked.schemaVersion))
        if configuration.failedPublishes?.isThrottled(ip) == true { return refused }
        guard let channel = try await store.channel(streamKey: asked.streamKey), BasicAuthMiddleware.constantTimeEquals(channel.streamKey, asked.streamKey) else {
            configuration.failedPublishes?.failed(ip)
            context.logger.info("go-live refused: unknown stream key", metadata: ["client": "\(ip)"])
            return refused
        }
        let now = Date()
        let limits = try await store.userLimits(userId: channel.userId)
        guard channel.enabled, channel.cooldown(at: now) == nil, limits.allowedVideoCodecs.map({ $0.contains("h264") }) ?? true else {
            context.logger.info("go-live refused", metadata: ["channel": "\(channel.id)", "client": "\(ip)",
                                                             "reason": "\(channel.enabled ? "cooldown or codec not allowed" : "disabled")"])
            return refused
        }
        // The channel's own renditions where it has them, else the automatic ladder.
        let ladder = channel.renditions.flatMap { GoLiveConfig.configured($0, asked, limits: limits) } ?? GoLiveConfig.ladder(asked, limits: limits)
        context.logger.info("go-live configuration sent", metadata: [
            "channel": "\(channel.id)", "schema": "\(asked.schemaVersion)", "client.version": "\(asked.clientVersion ?? "-")",
            "renditions": "\(ladder.map { "\($0.width)x\($0.height)@\($0.bitrateKbps)k" }.joined(separator: ","))"])
        return Self.goLiveAnswer(GoLiveConfig.render(asked, renditions: ladder, ingestURL: configuration.streamUrl,
                                                     configId: UUID().uuidString.lowercased()))
    }

    /// OBS reads the body as its `GoLiveApi::Config`, not as this API's envelope.
    static func goLiveAnswer(_ body: JSONValue) -> Response {
        let text = body.jsonText
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store", .contentLength: String(text.utf8.count)],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The RTMP listener's failed-publish counter, as the API sees it (ControlAPI does not import
/// the listener): one counter per address for both ways of presenting a stream key.
public struct FailedPublishGate: Sendable {
    public var isThrottled: @Sendable (String) -> Bool
    public var failed: @Sendable (String) -> Void

    public init(isThrottled: @escaping @Sendable (String) -> Bool, failed: @escaping @Sendable (String) -> Void) {
        self.isThrottled = isThrottled
        self.failed = failed
    }
}
