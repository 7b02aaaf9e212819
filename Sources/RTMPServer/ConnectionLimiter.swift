import NIOConcurrencyHelpers

/// Connection caps per server and per remote IP (docs/contract.md §2: 10,000 and 50). Shared by all
/// event loops, so it is lock-protected; the critical sections are a few dictionary ops.
public final class ConnectionLimiter: Sendable {
    public enum Refusal: Equatable, Sendable, CustomStringConvertible {
        case serverFull(Int)
        case ipFull(Int)

        public var description: String {
            switch self {
            case .serverFull(let n): return "server connection limit (\(n)) reached"
            case .ipFull(let n): return "per-IP connection limit (\(n)) reached"
            }
        }
    }

    private struct State {
        var total = 0
        var perIP: [String: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    public let maxConnections: Int
    public let maxPerIP: Int

    public init(maxConnections: Int, maxPerIP: Int) {
        self.maxConnections = maxConnections
        self.maxPerIP = maxPerIP
    }

    /// Reserves a slot for `ip`, or says why not. Every successful call needs one `release`.
    public func acquire(ip: String) -> Refusal? {
        state.withLockedValue { s in
            if s.total >= maxConnections { return .serverFull(maxConnections) }
            let current = s.perIP[ip, default: 0]
            if maxPerIP > 0 && current >= maxPerIP { return .ipFull(maxPerIP) }
            s.total += 1
            s.perIP[ip] = current + 1
            return nil
        }
    }

    public func release(ip: String) {
        state.withLockedValue { s in
            s.total = max(0, s.total - 1)
            let n = s.perIP[ip, default: 1] - 1
            s.perIP[ip] = n > 0 ? n : nil
        }
    }

    public var currentConnections: Int { state.withLockedValue { $0.total } }
}
