import Foundation

/// What `GET /v1/channels/{id}/thumbnail.jpg` gets from the node carrying the channel
/// (docs/contract.md §4, "Thumbnails").
public enum ThumbnailAnswer: Sendable, Equatable {
    case image(jpeg: [UInt8], width: Int, height: Int, takenAt: Date)
    /// No publisher here.
    case notLive
    /// Live, but no keyframe held yet (the first request starts holding them): ask again then.
    case waiting(retryAfterSec: Int)
    /// The decode budget is spent and nothing recent is cached.
    case busy(retryAfterSec: Int)
    /// The keyframe could not be decoded (said why).
    case failed(String)
}
