import Foundation
import NIOConcurrencyHelpers

/// What all publishers measured, collected from every event loop.
final class BenchReport: Sendable {
    private struct State {
        var acceptLatenciesMs: [Double] = []
        var failures: [String: Int] = [:]
        var bytesSent: UInt64 = 0
        var messagesSent: UInt64 = 0
        var publishing = 0
        var completed = 0
        var publishStartTimes: [(key: String, unixMs: Double)] = []
        /// Milliseconds from connect start at which each step completed, per publisher.
        var phases: [String: [Double]] = [:]
        /// Per publisher, from the `publish` command sent to `NetStream.Publish.Start` received: on
        /// loopback, the server's own accept work (the store's session transaction and lease) without
        /// the TCP, handshake and `connect` steps before it.
        var publishCommandMs: [Double] = []
    }

    static let phaseOrder = ["tcp", "handshake", "connect", "createStream", "publish"]

    func phases(_ times: [String: Double]) {
        state.withLockedValue { s in
            for (k, v) in times { s.phases[k, default: []].append(v) }
            if let sent = times["createStream"], let started = times["publish"] { s.publishCommandMs.append(started - sent) }
        }
    }

    private let state = NIOLockedValueBox(State())

    func accepted(key: String, latencyMs: Double) {
        let now = Date().timeIntervalSince1970 * 1000
        state.withLockedValue {
            $0.acceptLatenciesMs.append(latencyMs)
            $0.publishing += 1
            $0.publishStartTimes.append((key, now))
        }
    }

    func failed(_ cause: String, wasPublishing: Bool) {
        state.withLockedValue {
            $0.failures[cause, default: 0] += 1
            if wasPublishing { $0.publishing -= 1 }
        }
    }

    func completed() {
        state.withLockedValue {
            $0.completed += 1
            $0.publishing -= 1
        }
    }

    func sent(bytes: Int, messages: Int) {
        state.withLockedValue {
            $0.bytesSent &+= UInt64(bytes)
            $0.messagesSent &+= UInt64(messages)
        }
    }

    var publishing: Int { state.withLockedValue { $0.publishing } }
    var failureCount: Int { state.withLockedValue { $0.failures.values.reduce(0, +) } }
    var bytesSent: UInt64 { state.withLockedValue { $0.bytesSent } }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// The summary as JSON (one object; `bench/` scripts parse it).
    func json(publishers: Int, seconds: Double) -> String {
        state.withLockedValue { s in
            let sorted = s.acceptLatenciesMs.sorted()
            func r(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
            let object: [String: Any] = [
                "publishers": publishers,
                "accepted": sorted.count,
                "completed": s.completed,
                "failures": s.failures,
                "failed": s.failures.values.reduce(0, +),
                "acceptLatencyMs": ["p50": r(Self.percentile(sorted, 50)), "p95": r(Self.percentile(sorted, 95)),
                                    "p99": r(Self.percentile(sorted, 99)), "max": r(sorted.last ?? 0)],
                "publishCommandMs": { () -> [String: Double] in
                    let p = s.publishCommandMs.sorted()
                    return ["p50": r(Self.percentile(p, 50)), "p99": r(Self.percentile(p, 99)), "max": r(p.last ?? 0)]
                }(),
                "bytesSent": s.bytesSent,
                "messagesSent": s.messagesSent,
                "seconds": r(seconds),
                "sendMbps": r(Double(s.bytesSent) * 8 / 1e6 / max(seconds, 0.001)),
                "stepMedianMs": Dictionary(uniqueKeysWithValues: s.phases.map { ($0.key, r(Self.percentile($0.value.sorted(), 50))) }),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// `key unix-ms` per accepted publish (for matching webhook arrival times).
    func publishStartLines() -> String {
        state.withLockedValue { s in s.publishStartTimes.map { "\($0.key) \(String(format: "%.3f", $0.unixMs))" }.joined(separator: "\n") }
    }

    func text(publishers: Int, seconds: Double) -> String {
        state.withLockedValue { s in
            let sorted = s.acceptLatenciesMs.sorted()
            var out = "publishers \(publishers), accepted \(sorted.count), completed \(s.completed), failed \(s.failures.values.reduce(0, +))\n"
            out += String(format: "connect→Publish.Start ms: p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n",
                          Self.percentile(sorted, 50), Self.percentile(sorted, 95), Self.percentile(sorted, 99), sorted.last ?? 0)
            out += String(format: "sent %.1f MiB in %llu messages over %.1f s (%.1f Mbit/s)\n", Double(s.bytesSent) / 1_048_576,
                          s.messagesSent, seconds, Double(s.bytesSent) * 8 / 1e6 / max(seconds, 0.001))
            let steps = Self.phaseOrder.compactMap { name in
                s.phases[name].map { String(format: "%@ %.2f", name, Self.percentile($0.sorted(), 50)) }
            }
            if !steps.isEmpty { out += "median ms at each step: " + steps.joined(separator: "  ") + "\n" }
            for (cause, n) in s.failures.sorted(by: { $0.key < $1.key }) { out += "failure: \(cause) × \(n)\n" }
            return out
        }
    }
}
