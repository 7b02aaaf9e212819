import LiveGateModel
import RTMPCore

extension OfflineReason {
    /// How a publisher's connection ended, as an offline reason when nothing else explains it.
    init(_ end: IngestEndReason) {
        switch end {
        case .unpublished: self = .unpublished
        case .shutdown: self = .shutdown
        case .kicked, .replaced: self = .kicked
        case .mediaTimeout: self = .mediaTimeout
        case .connectionClosed, .protocolError: self = .connectionClosed
        }
    }
}

/// Why a publish was refused: the `reason` of `channel.publish_rejected` and the metric label.
public enum RejectReason: String, Sendable, Equatable {
    case unknownKey = "unknown_key"
    case disabled
    case duplicate
    case limitExceeded = "limit_exceeded"
    /// A limit ended the channel's last session; its publishes are refused for `ingest.limitCooldownSec`.
    case limitCooldown = "limit_cooldown"
    /// The store could not record the session.
    case unavailable
    /// The key was the channel's until `reset-key` retired it (in the last 24 h).
    case keyRotated = "key_rotated"
    /// `connect` named an application other than the listener's (`live`).
    case unknownApp = "unknown_app"
}
