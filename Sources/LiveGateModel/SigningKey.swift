import Foundation

/// A key that signs playback tokens (docs/api.md, "Playback"). The App Server may hold it and
/// mint tokens itself; the secret is shown once, when the key is made, and deleting the key
/// makes every token it signed worthless at once.
public struct SigningKey: Sendable, Equatable {
    public var id: String
    /// base64url (no padding) of 32 random bytes; the HMAC key is the decoded bytes.
    public var secret: String
    public var createdAt: Date

    public init(id: String, secret: String, createdAt: Date) {
        self.id = id
        self.secret = secret
        self.createdAt = createdAt
    }
}
