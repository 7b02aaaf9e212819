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
    /// The key was used for another request: another operation (method or path), or the same
    /// one with another body.
    case mismatch(IdempotencyMismatch)
    /// The first request with this key is still running.
    case inProgress
}

/// What differs from the request a key was first used for.
public enum IdempotencyMismatch: String, Sendable, Equatable {
    /// Another method or path: the key belongs to another operation.
    case operation
    /// The same operation with a body that is not the same JSON.
    case body
}
