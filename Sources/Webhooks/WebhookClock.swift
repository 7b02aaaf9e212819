import LiveGateModel
import Foundation

/// The dispatcher's time: when a delivery is due, when an attempt was made, how long a webhook
/// has been failing. The wall clock in the gateway; tests drive a `ManualWallClock` through the
/// real retry schedule (5 s … 24 h) without waiting for it — the same clock design the ingest
/// coordinator uses (`WallClock`, LiveGateModel).
public typealias WebhookClock = WallClock
public typealias SystemWebhookClock = SystemWallClock
