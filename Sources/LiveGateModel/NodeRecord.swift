import Foundation

/// One gateway node as the shared store knows it (issue #14 item 1): several nodes on one
/// PostgreSQL each keep their row fresh, and every node's `/v1/system` lists them all with their
/// health. A node's id is the stable one of `NodeIdentity` (configured, or generated once and kept
/// in the data directory), never the host name.
public struct NodeRecord: Sendable, Equatable {
    public var id: String
    /// Where it can be reached: its RTMP and HTTP addresses.
    public var addresses: [String]
    public var version: String
    public var startedAt: Date
    public var heartbeatAt: Date
    /// Where the other nodes reach this one's internal endpoints (`cluster.advertiseUrl`): HLS
    /// and recordings it holds are fetched from there. Nil: a node older than that setting.
    public var advertiseUrl: String?

    /// How often a running node writes its heartbeat.
    public static let heartbeatInterval: TimeInterval = 2
    /// A node whose heartbeat is older than this is lost (docs/contract.md §7: seen within 15 s).
    public static let lostAfter: TimeInterval = 15

    public init(id: String, addresses: [String], version: String, startedAt: Date, heartbeatAt: Date, advertiseUrl: String? = nil) {
        self.advertiseUrl = advertiseUrl
        self.id = id
        self.addresses = addresses
        self.version = version
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    public func isHealthy(at now: Date) -> Bool { now.timeIntervalSince(heartbeatAt) <= Self.lostAfter }
}
