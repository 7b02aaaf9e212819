import NIOConcurrencyHelpers
import NIOCore

/// Failed-publish throttling per IP (docs/contract.md §2 `failedPublishesPerMinute`): after N refusals in a
/// minute, that IP's publishes are refused for 60 s without asking the authorizer, so a key
/// scanner cannot turn into database load. Connections and handshakes are still accepted.
public final class PublishThrottle: Sendable {
    private struct Entry {
        var failures: [NIODeadline] = []
        var blockedUntil: NIODeadline?
    }

    private let entries = NIOLockedValueBox([String: Entry]())
    public let maxFailuresPerMinute: Int
    private let window = TimeAmount.seconds(60)
    private let now: @Sendable () -> NIODeadline

    public init(maxFailuresPerMinute: Int, now: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.maxFailuresPerMinute = maxFailuresPerMinute
        self.now = now
    }

    public func isThrottled(ip: String) -> Bool {
        guard maxFailuresPerMinute > 0 else { return false }
        let t = now()
        return entries.withLockedValue { e in
            guard let until = e[ip]?.blockedUntil else { return false }
            if until > t { return true }
            e[ip] = nil
            return false
        }
    }

    public func recordFailure(ip: String) {
        guard maxFailuresPerMinute > 0 else { return }
        let t = now()
        entries.withLockedValue { e in
            var entry = e[ip] ?? Entry()
            entry.failures.removeAll { $0 + window <= t }
            entry.failures.append(t)
            if entry.failures.count >= maxFailuresPerMinute {
                entry.blockedUntil = t + window
                entry.failures.removeAll()
            }
            e[ip] = entry
            // Bound the table: forget IPs whose failures have all aged out.
            if e.count > 100_000 {
                e = e.filter { $0.value.blockedUntil.map { $0 > t } ?? $0.value.failures.contains { $0 + window > t } }
            }
        }
    }
}
