import Foundation

/// A finished MP4 recording of one publish session (docs/contract.md §3 `record`).
public struct Video: Sendable, Equatable {
    public var id: String
    public var channelId: String
    public var userId: String
    public var sessionId: String?
    public var name: String
    /// Where the file lives on this node; never shown by the API (downloads go through `/v1/videos/{id}/file`).
    public var path: String
    public var durationSec: Double
    public var sizeBytes: Int64
    public var videoCodec: String?
    public var audioCodec: String?
    public var width: Int?
    public var height: Int?
    public var createdAt: Date
    /// The node whose disk holds the file; the others fetch it from there (docs/contract.md §7,
    /// "Files on several nodes"). Nil for recordings made before nodes were recorded.
    public var nodeId: String?

    public init(id: String, channelId: String, userId: String, sessionId: String?, name: String, path: String, durationSec: Double,
                sizeBytes: Int64, videoCodec: String?, audioCodec: String?, width: Int?, height: Int?, createdAt: Date, nodeId: String? = nil) {
        self.nodeId = nodeId
        self.id = id
        self.channelId = channelId
        self.userId = userId
        self.sessionId = sessionId
        self.name = name
        self.path = path
        self.durationSec = durationSec
        self.sizeBytes = sizeBytes
        self.videoCodec = videoCodec
        self.audioCodec = audioCodec
        self.width = width
        self.height = height
        self.createdAt = createdAt
    }
}
