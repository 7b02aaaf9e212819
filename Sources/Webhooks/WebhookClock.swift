import LiveGateModel
import Foundation

/// The dispatcher's time: when a delivery is due, when an attempt was made, how long a webhook
/// has been failing. The wall clock in the gateway; tests drive a manual one through the real
/// retry schedule (5 s … 24 h) without waiting for it.
public protocol WebhookClock: Sendable {
    func now() -> Date
}

public struct SystemWebhookClock: WebhookClock {
    public init() {}
    public func now() -> Date { Date() }
}
