import Foundation
import LiveGateModel

/// What the ingest domain needs from the store (docs/architecture.md, "The coordinator as an
/// executor"): the channel and its owner's limits, the session with its lease, the lifecycle
/// events written in the same transactions, recordings as videos. `SQLChannelStore` is one;
/// a test wraps it to fail on demand, so store outages and retries run in-process.
public protocol IngestStore: Sendable {
    /// `sqlite` or `postgres`: several nodes share only a PostgreSQL store.
    var backendName: String { get }

    // Channels and limits.
    func channel(id: String) async throws -> Channel?
    func channel(streamKey: String) async throws -> Channel?
    /// The channel whose key `reset-key` retired in the last 24 h.
    func channelRetiring(streamKey: String, now: Date) async throws -> Channel?
    func userLimits(userId: String) async throws -> UserLimits
    func forwards(channelId: String) async throws -> [Forward]

    // Sessions and their leases (docs/contract.md §7).
    func acquireSession(_ session: SessionRecord, event: NewEvent, now: Date, takeOver: Bool, rule: @escaping LeaseRule) async throws -> SessionStart
    func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                   leftAt: Date?, now: Date, announce: Bool) async throws -> Bool
    func renewLeases(nodeId: String, carrying: [String: String], now: Date, stats: [String: String]) async throws -> LeaseRenewal
    func claimExpiredLeases(now: Date, limit: Int) async throws -> [LostSession]
    func lease(channelId: String) async throws -> SessionLease?
    func sessionsElsewhere(userId: String, nodeId: String, excluding channelId: String) async throws -> Int
    func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?,
                    cooldown: (until: Date, limit: UserLimit)?) async throws -> StoredEvent?
    func addSessionConnection(id: String, _ connection: SessionConnection, videoFrames: Int64, audioFrames: Int64,
                              videoCodec: String?, audioCodec: String?) async throws
    func recordSessionMedia(id: String, media: JSONValue, event: NewEvent, now: Date) async throws -> StoredEvent?
    func session(id: String) async throws -> SessionRecord?
    func openSessions(nodeId: String) async throws -> [SessionRecord]

    // Events and recordings.
    func appendEvent(_ event: NewEvent, now: Date) async throws -> StoredEvent
    func createVideo(_ video: Video, event: NewEvent, now: Date) async throws -> StoredEvent
    func video(path: String) async throws -> Video?
}
