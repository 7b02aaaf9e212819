import Foundation
import NIOConcurrencyHelpers

/// Counts failed Basic-auth attempts per IP; past `maxPerMinute` in a sliding minute, that IP
/// gets 429 with `Retry-After` until its oldest failure ages out — a credential-guessing client
/// is slowed without a lookup, and a legitimate client elsewhere is unaffected.
final class AuthFailureThrottle: Sendable {
    private let failures = NIOLockedValueBox([String: [Date]]())
    let maxPerMinute: Int

    init(maxPerMinute: Int) {
        self.maxPerMinute = maxPerMinute
    }

    /// Seconds to wait, or nil when `ip` may try.
    func retryAfter(ip: String, now: Date = Date()) -> Int? {
        guard maxPerMinute > 0 else { return nil }
        return failures.withLockedValue { table in
            let recent = (table[ip] ?? []).filter { now.timeIntervalSince($0) < 60 }
            table[ip] = recent.isEmpty ? nil : recent
            guard recent.count >= maxPerMinute, let oldest = recent.first else { return nil }
            return max(1, Int((60 - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func recordFailure(ip: String, now: Date = Date()) {
        guard maxPerMinute > 0 else { return }
        failures.withLockedValue { table in
            var list = (table[ip] ?? []).filter { now.timeIntervalSince($0) < 60 }
            list.append(now)
            if list.count > maxPerMinute { list.removeFirst(list.count - maxPerMinute) }
            table[ip] = list
            if table.count > 100_000 { table = table.filter { !$0.value.isEmpty && now.timeIntervalSince($0.value.last!) < 60 } }
        }
    }
}
