import LiveGateModel
import ChannelStore

/// What an API token may do (docs/contract.md §4). `admin` may do everything, tokens included.
public enum TokenScope: String, Sendable, CaseIterable {
    case admin
    case channelsRead = "channels:read"
    case channelsWrite = "channels:write"
    case webhooks
    case videos
    case statsRead = "stats:read"

    /// The scopes a token bound to one user may hold: the ones whose resources belong to a user.
    static let userBound: Set<TokenScope> = [.channelsRead, .channelsWrite, .videos]
}

/// The authenticated token of a request: its id, scopes and bound user.
public struct TokenGrant: Sendable {
    public var tokenId: String
    public var scopes: Set<TokenScope>
    /// Set: the token sees and changes only this user's channels, videos and usage.
    public var userId: String?

    public init(tokenId: String, scopes: Set<TokenScope>, userId: String?) {
        self.tokenId = tokenId
        self.scopes = scopes
        self.userId = userId
    }

    init(_ token: APIToken) {
        self.init(tokenId: token.id, scopes: Set(token.scopes.compactMap(TokenScope.init(rawValue:))), userId: token.userId)
    }

    public func allows(_ scope: TokenScope?) -> Bool {
        guard let scope else { return true }
        return scopes.contains(.admin) || scopes.contains(scope) || (scope == .channelsRead && scopes.contains(.channelsWrite))
    }

    /// 403/4030 unless the token has `scope`.
    func require(_ scope: TokenScope?) throws {
        guard allows(scope) else {
            throw APIError(.forbidden, ec: 4030, "this token lacks the \(scope?.rawValue ?? "") scope", data: .object(["scope": .string(scope?.rawValue ?? "")]))
        }
    }

    /// Whether a resource of `owner` is visible to this token (404 otherwise).
    func sees(_ owner: String) -> Bool { userId == nil || userId == owner }
}
