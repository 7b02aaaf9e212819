import NIOConcurrencyHelpers
import NIOCore
import RTMPCore

/// Running counters of a session, readable from any thread (limit enforcement, stats).
public struct IngestLiveStats: Sendable, Equatable {
    public var mediaBytes: UInt64 = 0
    public var videoFrames: Int = 0
    public var audioFrames: Int = 0
}

/// A handle on one accepted publisher, safe to keep and call from any thread.
public final class IngestSession: Sendable, CustomStringConvertible {
    public let connectionID: UInt64
    public let request: PublishRequest
    public let remoteAddress: String
    public let startedAt: NIODeadline
    private let channel: any Channel
    private let stats = NIOLockedValueBox(IngestLiveStats())

    /// A snapshot of the counters.
    public var liveStats: IngestLiveStats { stats.withLockedValue { $0 } }

    func update(_ value: IngestLiveStats) { stats.withLockedValue { $0 = value } }

    init(connectionID: UInt64, request: PublishRequest, remoteAddress: String, startedAt: NIODeadline, channel: any Channel) {
        self.connectionID = connectionID
        self.request = request
        self.remoteAddress = remoteAddress
        self.startedAt = startedAt
        self.channel = channel
    }

    /// Ends the session from the server side: the client gets `status`, then the connection
    /// closes and the sink sees `publishEnded` with `reason`.
    public func kick(_ status: NetStatus, reason: IngestEndReason = .kicked) {
        channel.pipeline.fireUserInboundEventTriggered(KickEvent(status: status, reason: reason))
    }

    public var description: String { "IngestSession(conn: \(connectionID), key: \(request.maskedKey), remote: \(remoteAddress))" }
}

/// Delivered through the pipeline so the kick runs on the connection's own event loop.
struct KickEvent: Sendable {
    var status: NetStatus
    var reason: IngestEndReason
}
