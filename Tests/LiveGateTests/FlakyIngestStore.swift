import ChannelStore
import Foundation
import IngestCore
import LiveGateModel
import NIOConcurrencyHelpers

/// A real store behind IngestCore's `IngestStore` port that can be taken down and brought back
/// at will: while `down`, every call fails as an unreachable database would. The coordinator's
/// outage behaviour (refusals, retried ends and lease states, writes kept in order) runs
/// in-process with it, in milliseconds.
final class FlakyIngestStore: IngestStore {
    let base: SQLChannelStore
    private let state = NIOLockedValueBox(false)

    struct Unreachable: Error, CustomStringConvertible {
        var description: String { "the store is unreachable (FlakyIngestStore)" }
    }

    init(_ base: SQLChannelStore) { self.base = base }

    var down: Bool {
        get { state.withLockedValue { $0 } }
        set { state.withLockedValue { $0 = newValue } }
    }

    private func check() throws { if down { throw Unreachable() } }

    /// Calls of an operation left to fail, as one the store refused under load (a timeout, a
    /// dropped connection) while it is otherwise up: `failNext("markLease")`.
    private let failures = NIOLockedValueBox<[String: Int]>([:])

    func failNext(_ operation: String, times: Int = 1) { failures.withLockedValue { $0[operation, default: 0] += times } }

    private func check(_ operation: String) throws {
        try check()
        let fail = failures.withLockedValue { failures -> Bool in
            guard let left = failures[operation], left > 0 else { return false }
            failures[operation] = left - 1
            return true
        }
        if fail { throw Unreachable() }
    }

    /// Calls of an operation held at the door until released — to order a race the way a busy
    /// machine may: `hold("renewLeases")`, start it, do something else meanwhile, `release`.
    private let gates = NIOLockedValueBox<[String: (held: Bool, arrived: Int, waiting: [CheckedContinuation<Void, Never>])]>([:])

    func hold(_ operation: String) { gates.withLockedValue { $0[operation, default: (false, 0, [])].held = true } }

    func release(_ operation: String) {
        let waiting = gates.withLockedValue { gates -> [CheckedContinuation<Void, Never>] in
            defer { gates[operation] = (false, gates[operation]?.arrived ?? 0, []) }
            return gates[operation]?.waiting ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Calls of `operation` that reached the store so far (held or not).
    func arrived(_ operation: String) -> Int { gates.withLockedValue { $0[operation]?.arrived ?? 0 } }

    private func door(_ operation: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let go = gates.withLockedValue { gates -> Bool in
                gates[operation, default: (false, 0, [])].arrived += 1
                guard gates[operation]?.held == true else { return true }
                gates[operation]?.waiting.append(continuation)
                return false
            }
            if go { continuation.resume() }
        }
    }

    var backendName: String { base.backendName }
    func channel(id: String) async throws -> Channel? { try check(); return try await base.channel(id: id) }
    func channel(streamKey: String) async throws -> Channel? { try check(); return try await base.channel(streamKey: streamKey) }
    func channelRetiring(streamKey: String, now: Date) async throws -> Channel? { try check(); return try await base.channelRetiring(streamKey: streamKey, now: now) }
    func userLimits(userId: String) async throws -> UserLimits { try check(); return try await base.userLimits(userId: userId) }
    func forwards(channelId: String) async throws -> [Forward] { try check(); return try await base.forwards(channelId: channelId) }
    func acquireSession(_ session: SessionRecord, event: NewEvent, now: Date, takeOver: Bool, rule: @escaping LeaseRule) async throws -> SessionStart {
        await door("acquireSession")
        try check()
        return try await base.acquireSession(session, event: event, now: now, takeOver: takeOver, rule: rule)
    }
    func markLease(channelId: String, sessionId: String, nodeId: String, state: SessionLease.State, windowEndsAt: Date?, endReason: String?,
                   leftAt: Date?, now: Date, announce: Bool) async throws -> Bool {
        try check("markLease")
        return try await base.markLease(channelId: channelId, sessionId: sessionId, nodeId: nodeId, state: state, windowEndsAt: windowEndsAt,
                                        endReason: endReason, leftAt: leftAt, now: now, announce: announce)
    }
    func renewLeases(nodeId: String, carrying: [String: String], now: Date, stats: [String: String]) async throws -> LeaseRenewal {
        await door("renewLeases")
        try check()
        return try await base.renewLeases(nodeId: nodeId, carrying: carrying, now: now, stats: stats)
    }
    func claimExpiredLeases(now: Date, limit: Int) async throws -> [LostSession] { try check(); return try await base.claimExpiredLeases(now: now, limit: limit) }
    func lease(channelId: String) async throws -> SessionLease? { try check(); return try await base.lease(channelId: channelId) }
    func sessionsElsewhere(userId: String, nodeId: String, excluding channelId: String) async throws -> Int {
        try check()
        return try await base.sessionsElsewhere(userId: userId, nodeId: nodeId, excluding: channelId)
    }
    func endSession(id: String, reason: String, endedAt: Date, now: Date, event: NewEvent, byNode: String?,
                    cooldown: (until: Date, limit: UserLimit)?) async throws -> StoredEvent? {
        try check()
        return try await base.endSession(id: id, reason: reason, endedAt: endedAt, now: now, event: event, byNode: byNode, cooldown: cooldown)
    }
    func addSessionConnection(id: String, _ connection: SessionConnection, videoFrames: Int64, audioFrames: Int64,
                              videoCodec: String?, audioCodec: String?) async throws {
        try check()
        try await base.addSessionConnection(id: id, connection, videoFrames: videoFrames, audioFrames: audioFrames, videoCodec: videoCodec, audioCodec: audioCodec)
    }
    func recordSessionMedia(id: String, media: JSONValue, event: NewEvent, now: Date) async throws -> StoredEvent? {
        try check()
        return try await base.recordSessionMedia(id: id, media: media, event: event, now: now)
    }
    func session(id: String) async throws -> SessionRecord? { try check(); return try await base.session(id: id) }
    func openSessions(nodeId: String) async throws -> [SessionRecord] { try check(); return try await base.openSessions(nodeId: nodeId) }
    func appendEvent(_ event: NewEvent, now: Date) async throws -> StoredEvent { try check(); return try await base.appendEvent(event, now: now) }
    func createVideo(_ video: Video, event: NewEvent, now: Date) async throws -> StoredEvent { try check(); return try await base.createVideo(video, event: event, now: now) }
    func video(path: String) async throws -> Video? { try check(); return try await base.video(path: path) }
}
