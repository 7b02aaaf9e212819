import LiveGateModel
import Foundation

/// At most one recorded refusal per address and reason per interval, for the refusals any
/// unauthenticated peer can cause (`key_rotated`, `unknown_app`; docs/contract.md §2): a scanner
/// trying keys or applications must not fill the event log or the webhook lanes. Every refusal
/// still counts in the metrics; only the event is limited. Pure: time comes in with each call.
/// Memory is bounded: entries older than the interval are dropped when the table grows, and past
/// `capacity` addresses nothing more is recorded until they age out.
public struct RejectionEventLimiter: Sendable {
    public var interval: TimeInterval = 60
    public var capacity = 10_000
    private var lastRecorded: [String: Date] = [:]

    public init(interval: TimeInterval = 60, capacity: Int = 10_000) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Whether this refusal's event is recorded; remembers it when it is.
    public mutating func allow(_ reason: RejectReason, address: String, now: Date) -> Bool {
        let key = reason.rawValue + " " + Self.host(of: address)
        if let last = lastRecorded[key], now.timeIntervalSince(last) < interval { return false }
        if lastRecorded[key] == nil, lastRecorded.count >= capacity {
            lastRecorded = lastRecorded.filter { now.timeIntervalSince($0.value) < interval }
            if lastRecorded.count >= capacity { return false }
        }
        lastRecorded[key] = now
        return true
    }

    public var count: Int { lastRecorded.count }

    /// The address without its port: `10.0.0.1:5000` → `10.0.0.1`, `[::1]:5000` → `::1`.
    public static func host(of address: String) -> String {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if address.filter({ $0 == ":" }).count == 1, let colon = address.lastIndex(of: ":") { return String(address[..<colon]) }
        return address
    }
}
