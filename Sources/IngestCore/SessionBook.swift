import Foundation
import LiveGateModel
import RTMPCore

/// What is kept about a channel's session beside its `ChannelLifecycle`: the session row as
/// written, the figures of its connections that ended, the connection log, the lease state
/// written for it, which publishers' tracks `channel.media` reported and the sustained
/// bit-rate window. One value per channel, pure; a session that begins, continues from
/// another node, moves away or ends resets it in one place (`began`, `continued`, `closed`).
public struct SessionBook: Sendable {
    public typealias ConnectionID = UInt64

    /// Counters of the session's connections that have ended.
    public struct Totals: Sendable, Equatable {
        public var bytes: UInt64 = 0
        public var videoFrames = 0
        public var audioFrames = 0
        public init(bytes: UInt64 = 0, videoFrames: Int = 0, audioFrames: Int = 0) {
            self.bytes = bytes
            self.videoFrames = videoFrames
            self.audioFrames = audioFrames
        }
    }

    /// The session row as written (figures are added to it as connections end).
    public private(set) var record: SessionRecord?
    public private(set) var totals = Totals()
    /// The session's connections (`connections` of the session record).
    public private(set) var connectionLog: [SessionConnection] = []
    private var connectionIndex: [ConnectionID: Int] = [:]
    /// When this node got the session's lease (a renewal that began earlier cannot have seen it).
    public private(set) var leaseSince: Date?
    /// The lease state last written, whether a write of it is under way, and whether the last
    /// one failed (an outage: logged once, retried on the next feed or tick).
    public private(set) var leaseState: SessionLease.State?
    public private(set) var leaseWriting = false
    public private(set) var leaseWriteFailing = false
    /// Continued from another node: the outputs here are this part of the session.
    public private(set) var outputsPart: Int?
    private var mediaReported: Set<ConnectionID> = []
    private var declaredFps: [ConnectionID: Double] = [:]
    private var bitrateSamples: [(at: Date, bytes: UInt64)] = []

    public init() {}

    // MARK: The session

    /// A new session was recorded by this node.
    public mutating func began(_ record: SessionRecord, leaseAt: Date) {
        reset()
        self.record = record
        leaseSince = leaseAt
        leaseState = .live
    }

    /// A session of another node continues here: its figures and connections come with it, this
    /// node's writes add to them, its outputs here are the next part.
    public mutating func continued(_ record: SessionRecord, leaseAt: Date, leaseState: SessionLease.State = .live) {
        reset()
        self.record = record
        totals = Totals(bytes: UInt64(max(0, record.bytesIn)), videoFrames: Int(record.videoFrames), audioFrames: Int(record.audioFrames))
        connectionLog = record.connections
        leaseSince = leaseAt
        self.leaseState = leaseState
        outputsPart = record.connections.count + 1
    }

    /// The session ended, or moved to another node: nothing of it is kept. Returns the log
    /// entries of connections still running (their figures still belong to that session).
    @discardableResult
    public mutating func closed() -> [ConnectionID: SessionConnection] {
        let running = connectionIndex.mapValues { connectionLog[$0] }
        reset()
        return running
    }

    /// Forgets the session. What publishers declared is theirs, kept until they end.
    private mutating func reset() {
        let keep = (mediaReported, declaredFps)
        self = SessionBook()
        (mediaReported, declaredFps) = keep
    }

    // MARK: Connections

    /// A publisher of the session started: a new entry in its connection log.
    public mutating func connectionStarted(_ connection: ConnectionID, remote: String, encoder: String, encoderCaps: JSONValue? = nil, at now: Date) {
        bitrateSamples = []
        connectionIndex[connection] = connectionLog.count
        connectionLog.append(SessionConnection(remoteAddr: remote, encoder: encoder, startedAt: now, encoderCaps: encoderCaps))
    }

    /// When the connection started (nil: not one of the session's).
    public func startedAt(_ connection: ConnectionID) -> Date? { connectionIndex[connection].map { connectionLog[$0].startedAt } }

    /// A publisher ended: its figures count towards the session's (only a connection of the
    /// current session counts). Returns its finished log entry, to be written with the session.
    public mutating func connectionEnded(_ connection: ConnectionID, reason: IngestEndReason, bytes: UInt64, videoFrames: Int, audioFrames: Int,
                                         at now: Date) -> SessionConnection? {
        mediaReported.remove(connection)
        declaredFps[connection] = nil
        guard let index = connectionIndex.removeValue(forKey: connection) else { return nil }
        totals.bytes += bytes
        totals.videoFrames += videoFrames
        totals.audioFrames += audioFrames
        connectionLog[index].endedAt = now
        connectionLog[index].endReason = reason.rawValue
        connectionLog[index].bytesIn = Int64(bytes)
        return connectionLog[index]
    }

    // MARK: Lease state

    /// The lease state to write for the machine's phase, if it differs from what was written
    /// and no write is under way. Marks the write as under way.
    public mutating func leaseWriteNeeded(for phase: ChannelLifecycle.Phase) -> SessionLease.State? {
        guard let want = leaseStateBehind(phase) else { return nil }
        leaseWriting = true
        return want
    }

    /// What `leaseWriteNeeded(for:)` would answer, without marking anything: the coordinator's
    /// tick asks this of every channel to find the few with a write to retry.
    public func leaseStateBehind(_ phase: ChannelLifecycle.Phase) -> SessionLease.State? {
        guard record != nil, let held = leaseState, !leaseWriting else { return nil }
        let want: SessionLease.State
        switch phase {
        case .reconnecting: want = .reconnecting
        case .live: want = .live
        default: return nil
        }
        return want == held ? nil : want
    }

    /// The write finished. Returns whether it came back after failures (worth a log line), or —
    /// for a failure — whether it is the first of an outage (logged once).
    public mutating func leaseWritten(_ state: SessionLease.State, sessionId: String, ok: Bool) -> Bool {
        leaseWriting = false
        guard ok else {
            defer { leaseWriteFailing = true }
            return !leaseWriteFailing
        }
        defer { leaseWriteFailing = false }
        if record?.id == sessionId { leaseState = state }
        return leaseWriteFailing
    }

    // MARK: Media facts

    /// The frame rate a publisher declared in `onMetaData` (used when the bitstream does not say).
    public mutating func declared(fps: Double, by connection: ConnectionID) {
        guard fps > 0, fps < 1000 else { return }
        declaredFps[connection] = fps
    }

    public func declaredFps(of connection: ConnectionID) -> Double? { declaredFps[connection] }

    /// Whether `channel.media` is due for the publisher: not reported yet, and both tracks
    /// known or `wait` passed since it started with one known. Marks it reported when due.
    /// Whether this connection's `channel.media` is still to be sent: asked before the
    /// connection's figures are read (a snapshot per tick per channel otherwise).
    public func mediaReportPending(_ connection: ConnectionID) -> Bool {
        record != nil && !mediaReported.contains(connection)
    }

    public mutating func mediaReportDue(_ connection: ConnectionID, hasVideo: Bool, hasAudio: Bool, now: Date, wait: TimeInterval) -> Bool {
        guard record != nil, !mediaReported.contains(connection) else { return false }
        let waited = now.timeIntervalSince(startedAt(connection) ?? now) >= wait
        guard (hasVideo && hasAudio) || (waited && (hasVideo || hasAudio)) else { return false }
        mediaReported.insert(connection)
        return true
    }

    /// The media `channel.media` reported, kept with the session.
    public mutating func mediaRecorded(_ media: JSONValue) { record?.media = media }

    // MARK: Sustained bit rate

    /// Adds a (time, media bytes) sample of the current publisher; the bit rate in kbit/s once
    /// the samples span `window` (docs/contract.md §4: `maxBitrateKbps` is judged over 10 s).
    public mutating func bitrate(now: Date, bytes: UInt64, window: TimeInterval) -> Double? {
        bitrateSamples.append((now, bytes))
        bitrateSamples.removeAll { now.timeIntervalSince($0.at) > window + 0.5 }
        guard let first = bitrateSamples.first, now.timeIntervalSince(first.at) >= window else { return nil }
        return Double(bytes &- first.bytes) * 8 / 1000 / now.timeIntervalSince(first.at)
    }
}
