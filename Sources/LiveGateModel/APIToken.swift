import Foundation

/// An API token (docs/contract.md §4): Basic `id:secret`, the secret kept as a SHA-256 hash only. Its
/// scopes say what it may do; one bound to a `userId` sees only that user's resources.
public struct APIToken: Sendable, Equatable {
    /// How the token came to be: `configured` (LIVE_TOKEN_ID/SECRET), `generated` (printed at a
    /// first start without them; revoked once configured ones exist), `api` (POST /v1/tokens),
    /// `legacy` (stored before scopes existed: admin).
    public enum Origin: String, Sendable { case configured, generated, api, legacy }

    public var id: String
    public var secretHash: String
    public var scopes: [String]
    public var userId: String?
    public var origin: Origin
    public var createdAt: Date
    public var lastUsedAt: Date?
    /// What the operator calls it ("billing worker"); shown in lists, never used to authenticate.
    public var name: String?
    /// After this the token no longer authenticates (401 saying so); nil = never.
    public var expiresAt: Date?

    public init(id: String, secretHash: String, scopes: [String], userId: String? = nil, origin: Origin, createdAt: Date, lastUsedAt: Date? = nil,
                name: String? = nil, expiresAt: Date? = nil) {
        self.name = name
        self.expiresAt = expiresAt
        self.id = id
        self.secretHash = secretHash
        self.scopes = scopes
        self.userId = userId
        self.origin = origin
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}
