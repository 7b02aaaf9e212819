import Foundation

/// A POST that creates, sent with an `Idempotency-Key` (per token).
public struct IdempotentRequest: Sendable, Equatable {
    public var tokenId: String
    public var key: String
    public var method: String
    public var path: String
    /// SHA-256 of the body: the same key with another body is refused.
    public var bodyHash: String

    public init(tokenId: String, key: String, method: String, path: String, bodyHash: String) {
        self.tokenId = tokenId
        self.key = key
        self.method = method
        self.path = path
        self.bodyHash = bodyHash
    }

    /// How long an answer is kept and replayed.
    public static let retention: TimeInterval = 24 * 3600
}

/// What claiming an idempotency key found.
public enum IdempotencyClaim: Sendable, Equatable {
    /// First use (or the earlier one expired): run the request, then complete or release the key.
    case claimed
    /// The same request was answered before: answer the same.
    case replay(status: Int, response: String)
    /// The key was used for another request (body, method or path).
    case mismatch
    /// The first request with this key is still running.
    case inProgress
}
