import LiveGateModel
import Foundation
import NIOConcurrencyHelpers

/// Slows failing logins without ever refusing a good one (docs/api.md, "Failed logins").
///
/// Failures are counted per client address and per token id, in a sliding minute. Past
/// `maxPerMinute` for either (attempts that present no credentials are not counted), that source is *blocked*: its next failing attempts answer 429
/// with `Retry-After` instead of 401, and each failure while blocked doubles the block (1 s,
/// 2 s, 4 s … up to `maxBlock`). A request whose credentials are correct is checked first and
/// always accepted, so one worker with a stale secret — or anyone behind the same NAT or
/// balancer — cannot lock the App Server's good token out.
///
/// A pure value: time comes in as an argument, so the backoff is tested on a manual clock.
struct AuthFailureLedger: Sendable {
    struct Source: Sendable {
        var failures: [Date] = []
        var blockedUntil: Date?
        /// Failures while blocked, which set the block's length.
        var strikes = 0
        /// Failures answered 429 since the block began (logged when the burst begins).
        var throttled = 0
    }

    /// What to answer a failing attempt.
    enum Verdict: Equatable {
        /// 401: wrong credentials, under the limit.
        case rejected
        /// 429 with `Retry-After: seconds`; `burstBegan` the first time in a burst (log it once).
        case throttled(seconds: Int, burstBegan: Bool)
    }

    let maxPerMinute: Int
    let maxBlock: TimeInterval
    /// Sources kept at most (an address spray cannot grow memory without bound).
    let capacity: Int
    private(set) var sources: [String: Source] = [:]

    init(maxPerMinute: Int, maxBlock: TimeInterval = 300, capacity: Int = 100_000) {
        self.maxPerMinute = maxPerMinute
        self.maxBlock = maxBlock
        self.capacity = capacity
    }

    /// Records one failing attempt from each of `keys` (the address and the token id tried) and
    /// answers for the strictest of them.
    mutating func fail(_ keys: [String], now: Date) -> Verdict {
        guard maxPerMinute > 0 else { return .rejected }
        var verdict = Verdict.rejected
        for key in keys {
            let one = fail(key, now: now)
            switch (verdict, one) {
            case (.rejected, _): verdict = one
            case (.throttled(let a, let began), .throttled(let b, let began2)): verdict = .throttled(seconds: max(a, b), burstBegan: began || began2)
            case (.throttled, .rejected): break
            }
        }
        return verdict
    }

    private mutating func fail(_ key: String, now: Date) -> Verdict {
        if sources.count >= capacity && sources[key] == nil { prune(now: now) }
        if sources.count >= capacity && sources[key] == nil { sources.removeAll(keepingCapacity: true) }
        var source = sources[key] ?? Source()
        source.failures = source.failures.filter { now.timeIntervalSince($0) < 60 }
        source.failures.append(now)
        if source.failures.count > maxPerMinute + 1 { source.failures.removeFirst(source.failures.count - maxPerMinute - 1) }
        let blocked = source.blockedUntil.map { $0 > now } ?? false
        let verdict: Verdict
        if blocked || source.failures.count > maxPerMinute {
            if !blocked && source.blockedUntil.map({ now.timeIntervalSince($0) >= 60 }) ?? true {
                // A new burst: the backoff starts over after a quiet minute.
                source.strikes = 0
                source.throttled = 0
            }
            source.strikes += 1
            let block = min(maxBlock, pow(2, Double(min(source.strikes - 1, 30))))
            source.blockedUntil = now.addingTimeInterval(block)
            source.throttled += 1
            verdict = .throttled(seconds: max(1, Int(block.rounded(.up))), burstBegan: source.throttled == 1)
        } else {
            verdict = .rejected
        }
        sources[key] = source
        return verdict
    }

    /// Sources still blocked (for the metrics gauge).
    func blockedCount(now: Date) -> Int { sources.values.filter { ($0.blockedUntil ?? .distantPast) > now }.count }

    /// Drops sources with no failure in the last minute and no block running.
    mutating func prune(now: Date) {
        sources = sources.filter { _, s in
            (s.blockedUntil ?? .distantPast) > now || s.failures.contains { now.timeIntervalSince($0) < 60 }
        }
    }
}

/// The ledger shared by every request, with the counters `/metrics` shows.
final class AuthFailureThrottle: Sendable {
    private let ledger: NIOLockedValueBox<AuthFailureLedger>
    private let counts = NIOLockedValueBox((rejected: 0, throttled: 0, bursts: 0))

    init(maxPerMinute: Int) {
        ledger = NIOLockedValueBox(AuthFailureLedger(maxPerMinute: maxPerMinute))
    }

    /// One failing attempt from `ip` with token id `tokenId` (nil when the header named none).
    func fail(ip: String, tokenId: String?, now: Date = Date()) -> AuthFailureLedger.Verdict {
        var keys = ["ip:" + ip]
        if let tokenId, !tokenId.isEmpty { keys.append("token:" + String(tokenId.prefix(64))) }
        let verdict = ledger.withLockedValue { $0.fail(keys, now: now) }
        counts.withLockedValue { c in
            switch verdict {
            case .rejected: c.rejected += 1
            case .throttled(_, let began): c.throttled += 1; if began { c.bursts += 1 }
            }
        }
        return verdict
    }

    /// Prometheus lines: failed logins answered 401 and 429, bursts, sources blocked now.
    func prometheusText(now: Date = Date()) -> String {
        let c = counts.withLockedValue { $0 }
        let blocked = ledger.withLockedValue { $0.blockedCount(now: now) }
        return """
        # HELP livegate_api_auth_failures_total Failed API logins, by answer (401 rejected, 429 throttled).
        # TYPE livegate_api_auth_failures_total counter
        livegate_api_auth_failures_total{answer="rejected"} \(c.rejected)
        livegate_api_auth_failures_total{answer="throttled"} \(c.throttled)
        # HELP livegate_api_auth_throttle_bursts_total Times a client address or token id began to be throttled.
        # TYPE livegate_api_auth_throttle_bursts_total counter
        livegate_api_auth_throttle_bursts_total \(c.bursts)
        # HELP livegate_api_auth_throttled_sources Client addresses and token ids throttled now.
        # TYPE livegate_api_auth_throttled_sources gauge
        livegate_api_auth_throttled_sources \(blocked)

        """
    }
}
