import LiveGateModel
import Foundation

/// Everything LiveGate keeps durably. One protocol, implemented by `SQLChannelStore` over
/// SQLite (embedded default) and PostgreSQL (scale-out); `ChannelStoreConformanceTests` runs
/// the same suite against both.
public protocol ChannelStore: Sendable {
    /// Which backend this is (`sqlite` / `postgres`), for `/v1/system` and logs.
    var backendName: String { get }
    func ping() async throws
    func close() async

    // API tokens: secrets are stored as SHA-256 hashes only.
    func tokenCount() async throws -> Int
    /// Stores `token`, replacing one with the same id.
    func saveToken(_ token: APIToken) async throws
    func token(id: String) async throws -> APIToken?
    /// Tokens, oldest first.
    func listTokens(limit: Int, cursor: String?, descending: Bool) async throws -> Page<APIToken>
    func deleteToken(id: String) async throws -> Bool
    /// Revokes every token of `origin` but `keeping` (a generated token once configured ones exist).
    func deleteTokens(origin: APIToken.Origin, keeping id: String) async throws -> [String]
    func touchToken(id: String, at: Date) async throws

    // Idempotency keys (docs/contract.md §4: every POST that creates, 24 h).
    /// Claims `key` for this request, or says what an earlier request with it did.
    /// Nodes sharing this store (issue #14): registered at start, a heartbeat every 2 s.
    func registerNode(_ node: NodeRecord) async throws
    func heartbeatNode(id: String, at now: Date) async throws -> Bool
    /// Nodes whose heartbeat is older than `lostAfter`, each taken for lost once (`node.lost`).
    func claimLostNodes(now: Date, lostAfter: TimeInterval) async throws -> [NodeRecord]
    func nodes() async throws -> [NodeRecord]
    /// A node that stops cleanly leaves the list (a crashed one stays, unhealthy, until it is back).
    func removeNode(id: String) async throws
    func forgetNode(id: String, now: Date) async throws -> Bool
    func departedNodes() async throws -> [String: (departedAt: Date, removed: Bool)]
    func claimIdempotencyKey(_ request: IdempotentRequest, now: Date) async throws -> IdempotencyClaim
    /// Stores the answer of a claimed key (replayed to the same request for 24 h).
    func completeIdempotencyKey(tokenId: String, key: String, status: Int, response: String) async throws
    /// Gives a claimed key back (the request failed in a way worth retrying: a 5xx).
    func releaseIdempotencyKey(tokenId: String, key: String) async throws

    // Channels.
    /// Creates a channel, enforcing the owner's `maxChannels` atomically (throws `StoreError.limitReached`).
    func createChannel(id: String, streamKey: String, fields: ChannelFields, now: Date) async throws -> Channel
    func channel(id: String) async throws -> Channel?
    func channel(streamKey: String) async throws -> Channel?
    func listChannels(_ query: ChannelQuery) async throws -> Page<Channel>
    /// Applies `fields`; returns nil for an unknown id. A changed `userId` is checked against the new owner's `maxChannels`.
    func updateChannel(id: String, fields: ChannelFields, now: Date) async throws -> Channel?
    func resetStreamKey(id: String, newKey: String, now: Date) async throws -> Channel?
    /// The channel whose key `reset-key` retired in the last 24 h (nil: never a key, or too old).
    func channelRetiring(streamKey: String, now: Date) async throws -> Channel?
    /// Stores what `channel.media` reports on the open session and queues the event; nil when the session is over.
    func recordSessionMedia(id: String, media: JSONValue, event: NewEvent, now: Date) async throws -> StoredEvent?
    func deleteChannel(id: String) async throws -> Bool

    // Users.
    func userLimits(userId: String) async throws -> UserLimits
    func setUserLimits(userId: String, _ limits: UserLimits, now: Date) async throws
    func usage(userId: String) async throws -> UserUsage

    // Webhooks.
    func createWebhook(id: String, secret: String, fields: WebhookFields, now: Date) async throws -> Webhook
    func webhook(id: String) async throws -> Webhook?
    func listWebhooks(limit: Int, cursor: String?, descending: Bool) async throws -> Page<Webhook>
    func updateWebhook(id: String, fields: WebhookFields, now: Date) async throws -> Webhook?
    func deleteWebhook(id: String) async throws -> Bool
    /// Playback signing keys (docs/api.md, "Playback").
    func createSigningKey(_ key: SigningKey) async throws
    func signingKey(id: String) async throws -> SigningKey?
    func signingKeys() async throws -> [SigningKey]
    func deleteSigningKey(id: String) async throws -> Bool
    /// A new secret; the old one signs beside it until `overlapUntil`. Nil: no such webhook.
    func rotateWebhookSecret(id: String, newSecret: String, overlapUntil: Date, now: Date) async throws -> Webhook?

    // Videos (recordings) and forwards (push targets).
    func searchVideos(_ query: ChannelQuery) async throws -> Page<Video>
    /// Records a finished recording and queues its `video.ready` event atomically.
    func createVideo(_ video: Video, event: NewEvent, now: Date) async throws -> StoredEvent
    func video(id: String) async throws -> Video?
    /// The record of the file at `path`, if one was made (crash recovery: a recording that was
    /// recorded just before the crash is not recorded twice).
    func video(path: String) async throws -> Video?
    /// Removes the record and returns it (the caller deletes the file).
    func deleteVideo(id: String, reason: String, now: Date, byNode: String) async throws -> Video?
    func fileDeletions(nodeId: String, limit: Int) async throws -> [FileDeletion]
    func finishFileDeletion(seq: Int64) async throws
    func failFileDeletion(seq: Int64, error: String) async throws
    func pendingFileDeletions() async throws -> [String: Int]
    func clusterSecret() async throws -> String?
    /// Recordings past their owner's retention (`UserLimits.retentionDays`, else `defaultDays`).
    func expiredVideos(defaultDays: Double?, now: Date, limit: Int) async throws -> [Video]
    /// Throws `StoreError.limitReached("forwards")` past `Forward.maxPerChannel`.
    func createForward(id: String, channelId: String, url: String, enabled: Bool, enhanced: Bool, now: Date) async throws -> Forward
    func forwards(channelId: String) async throws -> [Forward]
    func forward(id: String, channelId: String) async throws -> Forward?
    func updateForward(id: String, channelId: String, url: String?, enabled: Bool?, enhanced: Bool?, now: Date) async throws -> Forward?
    func deleteForward(id: String, channelId: String) async throws -> Bool

    // Events.
    /// The event log: gapless, commit-ordered `seq` on both stores; pings are not in it.
    func events(_ query: EventQuery) async throws -> Page<StoredEvent>
    /// The newest event's `seq` (0: none yet): where a live event stream starts.
    func lastEventSeq() async throws -> Int64
    /// Insights: usage by UTC hour or day over [from, to) (docs/api.md, "Insights").
    func usage(_ query: UsageQuery) async throws -> [UsageBucket]

    // Sessions, outbox and deliveries (SQLChannelStore+Ingest).
    func appendEvent(_ event: NewEvent, now: Date) async throws -> StoredEvent
    func appendPing(_ event: NewEvent, webhookId: String, now: Date) async throws -> (StoredEvent, String)
    func startSession(_ session: SessionRecord, event: NewEvent, now: Date) async throws -> StoredEvent
    /// A publish's session decided across nodes by the channel's lease (SQLChannelStore+Leases).
    /// `rule` is the decision table's cross-node half (`IngestCore.CrossNodeDecision.rule`), run
    /// inside the transaction on the lease it finds.
    func acquireSession(_ session: SessionRecord, event: NewEvent, now: Date, takeOver: Bool, rule: @escaping LeaseRule) async throws -> SessionStart
    func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                   now: Date) async throws -> Bool
    func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                   leftAt: Date?, now: Date, announce: Bool) async throws -> Bool
    func renewLeases(nodeId: String, carrying: [String: String], now: Date, stats: [String: String]) async throws -> LeaseRenewal
    func claimExpiredLeases(now: Date, limit: Int) async throws -> [LostSession]
    func lease(channelId: String) async throws -> SessionLease?
    func sessionsElsewhere(userId: String, nodeId: String, excluding channelId: String) async throws -> Int
    /// Tells every other node (nothing to tell on a single-node store).
    func broadcast(_ message: ClusterMessage) async throws
    func endSession(id: String, reason: String, now: Date, event: NewEvent, byNode: String?) async throws -> StoredEvent?
    func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?) async throws -> StoredEvent?
    func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?,
                    cooldown: (until: Date, limit: UserLimit)?) async throws -> StoredEvent?
    /// Ends a channel's limit cooldown (`POST /v1/channels/{id}/clear-cooldown`); nil: no such channel.
    func clearCooldown(channelId: String, now: Date) async throws -> Channel?
    /// One ended connection's figures and entry, added to its session's (additive: nodes in turn).
    func addSessionConnection(id: String, _ connection: SessionConnection, videoFrames: Int64, audioFrames: Int64,
                              videoCodec: String?, audioCodec: String?) async throws
    func session(id: String) async throws -> SessionRecord?
    func openSessions(nodeId: String) async throws -> [SessionRecord]
    func sessions(channelId: String, limit: Int, cursor: String?, descending: Bool) async throws -> Page<SessionRecord>
    func liveChannelCount(userId: String, excluding channelId: String) async throws -> Int
    /// Due deliveries, oldest first, at most one per (webhook, channel) and none of a channel whose
    /// earlier delivery is still pending or in flight (per-channel order); only `webhookId`'s when given.
    func dueDeliveries(now: Date, limit: Int, webhookId: String?) async throws -> [(delivery: DeliveryRecord, webhook: Webhook, payload: String)]
    /// Webhooks with at least one delivery due now (each is its own lane).
    func webhooksWithDueDeliveries(now: Date) async throws -> [String]
    /// Records an attempt and the webhook's health; returns the webhook if the attempt disabled it.
    func recordAttempt(_ attempt: DeliveryAttempt, now: Date) async throws -> Webhook?
    /// Claims a due delivery for `node` until `claimUntil` (false: another node has it, or it is gone).
    func claimDelivery(deliveryId: String, node: String, claimUntil: Date, now: Date) async throws -> Bool
    /// At start: what this node left in flight is due again (at-least-once).
    func resetInFlightDeliveries(node: String) async throws
    /// Claims that outlived their expiry (their node died mid-attempt) are due again.
    func releaseExpiredClaims(now: Date) async throws -> Int
    /// A webhook's delivery log, newest first; only `state`'s when given.
    /// Deliveries not made yet (`pending`, across every webhook) and when the oldest of them
    /// was created: the backlog an operator watches (`/metrics`).
    func webhookBacklog() async throws -> (pending: Int, oldestCreatedAt: Date?)
    func deliveries(webhookId: String, state: DeliveryRecord.State?, limit: Int, cursor: String?, descending: Bool) async throws -> Page<DeliveryRecord>
    func redeliver(deliveryId: String, webhookId: String, now: Date) async throws -> Bool
}

extension ChannelStore {
    public func endSession(id: String, reason: String, now: Date, event: NewEvent) async throws -> StoredEvent? {
        try await endSession(id: id, reason: reason, now: now, event: event, byNode: nil)
    }

}

extension ChannelStore {
    /// Oldest first.
    public func listWebhooks(limit: Int, cursor: String?) async throws -> Page<Webhook> { try await listWebhooks(limit: limit, cursor: cursor, descending: false) }
    /// Oldest first.
    public func listTokens(limit: Int, cursor: String?) async throws -> Page<APIToken> { try await listTokens(limit: limit, cursor: cursor, descending: false) }
    /// Newest first.
    public func sessions(channelId: String, limit: Int, cursor: String?) async throws -> Page<SessionRecord> {
        try await sessions(channelId: channelId, limit: limit, cursor: cursor, descending: true)
    }
    /// Newest first.
    public func deliveries(webhookId: String, state: DeliveryRecord.State? = nil, limit: Int, cursor: String?) async throws -> Page<DeliveryRecord> {
        try await deliveries(webhookId: webhookId, state: state, limit: limit, cursor: cursor, descending: true)
    }
}

extension ChannelStore {
    /// A plain (not Enhanced RTMP) forward.
    public func createForward(id: String, channelId: String, url: String, enabled: Bool, now: Date) async throws -> Forward {
        try await createForward(id: id, channelId: channelId, url: url, enabled: enabled, enhanced: false, now: now)
    }
}
