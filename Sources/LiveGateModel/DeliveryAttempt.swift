import Foundation

/// The outcome of one delivery attempt, as the dispatcher records it.
public struct DeliveryAttempt: Sendable, Equatable {
    public var deliveryId: String
    public var webhookId: String
    /// 1 for the first attempt.
    public var attempt: Int
    /// `delivered`, `pending` (a retry at `nextAttemptAt`) or `failed` (given up).
    public var state: DeliveryRecord.State
    public var statusCode: Int?
    public var latencyMs: Int
    public var excerpt: String?
    public var nextAttemptAt: Date
    /// A webhook whose attempts have all failed for this long is disabled (nil: never).
    public var disableAfter: TimeInterval?
    /// The node whose claim this attempt ran under: recorded only while that claim holds (nil: any).
    public var claimedBy: String?

    public init(deliveryId: String, webhookId: String, attempt: Int, state: DeliveryRecord.State, statusCode: Int?, latencyMs: Int,
                excerpt: String?, nextAttemptAt: Date, disableAfter: TimeInterval?, claimedBy: String? = nil) {
        self.claimedBy = claimedBy
        self.deliveryId = deliveryId
        self.webhookId = webhookId
        self.attempt = attempt
        self.state = state
        self.statusCode = statusCode
        self.latencyMs = latencyMs
        self.excerpt = excerpt
        self.nextAttemptAt = nextAttemptAt
        self.disableAfter = disableAfter
    }

    public var delivered: Bool { state == .delivered }
}
