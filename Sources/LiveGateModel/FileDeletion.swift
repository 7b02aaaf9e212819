import Foundation

/// A file to remove from one node's disk (docs/contract.md §7, "Files on several nodes"):
/// queued in the store in the same transaction that deleted its record, so a delete through
/// any node reaches the node holding the file — and is retried until done, never lost to a
/// node that was down or a removal that failed.
public struct FileDeletion: Sendable, Equatable {
    public var seq: Int64
    public var nodeId: String
    public var path: String
    public var requestedAt: Date
    public var attempts: Int

    public init(seq: Int64, nodeId: String, path: String, requestedAt: Date, attempts: Int) {
        self.seq = seq
        self.nodeId = nodeId
        self.path = path
        self.requestedAt = requestedAt
        self.attempts = attempts
    }
}
