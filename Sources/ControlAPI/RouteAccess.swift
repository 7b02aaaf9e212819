import LiveGateModel
/// Who may call a route: declared once per route in `ControlAPI.routes`, enforced before the
/// handler runs, and published in the OpenAPI document (docs/api.md, "Who may call what").
///
/// It fails closed: a route that declares nothing gets `.unbound(.admin)`, so a route added
/// without thinking about access opens to nobody but the operator's own admin token.
enum RouteAccess: Sendable, Equatable {
    /// No credentials (health, metrics, HLS, the OpenAPI document).
    case anonymous
    /// Any valid token, whatever its scopes or user (`/v1/system`).
    case anyToken
    /// A token holding the scope (or `admin`); a token bound to a user reaches only that user's
    /// resources (404 for anyone else's).
    case scope(TokenScope)
    /// An unbound token holding the scope (or `admin`): the operator's controls, such as a user's
    /// limits, which a token bound to that user must never change.
    case unbound(TokenScope)
    /// What an operator watches (channel lists, stats, history, thumbnails, sessions, events,
    /// Insights): `.scope(scope)`, and also an (unbound) `stats:read` token — the read-only
    /// operator scope (docs/api.md, "Who may call what"). It never sees stream keys.
    case operatorRead(TokenScope)

    var requiresAuth: Bool { self != .anonymous }

    /// The scope it names, if any.
    var scope: TokenScope? {
        switch self {
        case .anonymous, .anyToken: return nil
        case .scope(let s), .unbound(let s), .operatorRead(let s): return s
        }
    }

    /// What the OpenAPI document says about it.
    var summary: String {
        switch self {
        case .anonymous: return "No credentials."
        case .anyToken: return "Any valid token."
        case .scope(let s): return "Needs a token with the `\(s.rawValue)` scope (or `admin`); a token bound to a user reaches only that user's resources."
        case .unbound(let s): return "Needs a token not bound to a user, with the `\(s.rawValue)` scope" + (s == .admin ? "." : " (or `admin`).")
        case .operatorRead(let s):
            return "Needs a token with the `\(s.rawValue)` scope (or `admin`), or the read-only operator scope `stats:read` (which never sees stream keys); "
                + "a token bound to a user reaches only that user's resources."
        }
    }
}

extension TokenGrant {
    /// A `stats:read` token without `channels:read` (or more): it watches, and sees no stream key.
    var isOperatorReadOnly: Bool { !allows(.channelsRead) && scopes.contains(.statsRead) }

    /// 403/4030 naming the scope unless this token may call a route with `access`.
    func authorize(_ access: RouteAccess) throws {
        switch access {
        case .anonymous, .anyToken:
            return
        case .scope(let scope):
            try require(scope)
        case .operatorRead(let scope):
            if allows(scope) || scopes.contains(.statsRead) { return }
            try require(scope)
        case .unbound(let scope):
            try require(scope)
            if userId != nil {
                throw APIError(.forbidden, ec: 4030, "only a token not bound to a user, with the \(scope.rawValue) scope, may do this",
                               data: .object(["scope": .string(scope.rawValue), "unboundRequired": .bool(true)]))
            }
        }
    }
}
