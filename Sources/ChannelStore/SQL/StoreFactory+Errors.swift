import LiveGateModel
import AsyncKit
import Foundation
import NIOCore
import PostgresKit

extension StoreFactory {
    /// How an error from opening the store reads in one log line: the server's message and
    /// SQLSTATE, or the connection's errno text — PSQLError's own description is deliberately
    /// generic ("Generic description to prevent accidental leakage…") and names nothing.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                let message = info[.message] ?? "server error"
                return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
            }
            if let underlying = error.underlying { return describe(underlying) }
            return "PostgreSQL \(error.code)"
        }
        if let io = error as? IOError { return "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))" }
        if let connect = error as? NIOConnectionError {
            let reasons = connect.connectionErrors.map { "\($0.target): \(describe($0.error))" }
            if !reasons.isEmpty { return reasons.joined(separator: "; ") }
            if let dns = connect.dnsAAAAError ?? connect.dnsAError { return "cannot resolve \(connect.host): \(dns)" }
            return "cannot connect to \(connect.host):\(connect.port)"
        }
        if let unsupported = error as? UnsupportedURL { return unsupported.description }
        return "\(error)"
    }

    /// Whether waiting cannot help: the server answered and refused (wrong password, no such
    /// database or role). A refused or timed-out connection, or a server still starting
    /// (SQLSTATE 57P03), may recover and is retried.
    public static func isPermanent(_ error: any Error) -> Bool {
        if error is UnsupportedURL { return true }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            // 28xxx: invalid authorization; 3D000: no such database; 42501: insufficient privilege.
            return state.hasPrefix("28") || state == "3D000" || state == "42501"
        }
        return false
    }

    /// Whether the store could not be reached or dropped the connection — the API answers
    /// 503/5030 with `Retry-After` for these (a bug is a 500; an outage is not), and they are no
    /// failed login. Covers refused/reset connections, pool timeouts, and PostgreSQL's
    /// connection-class (08xxx), shutdown (57P01–57P03) and too-many-connections (53300) answers.
    public static func isUnavailable(_ error: any Error) -> Bool {
        if error is IOError || error is NIOConnectionError || error is ChannelError { return true }
        if error is ConnectionPoolTimeoutError || error is ConnectionPoolError || error is StoreDeadline.Exceeded { return true }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed: return true
        default: break
        }
        if let state = error.serverInfo?[.sqlState] {
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        }
        return false
    }

    /// A connection the server (or the network) closed under a query: worth a retry on
    /// another connection for a read (`57P01` during a PostgreSQL restart, a reset).
    static func isDroppedConnection(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return error is ChannelError }
        if error.code == .serverClosedConnection || error.code == .uncleanShutdown || error.code == .clientClosedConnection
            || error.code == .connectionError { return true }
        return error.serverInfo?[.sqlState] == "57P01"
    }
}
