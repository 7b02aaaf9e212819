import LiveGateModel
import ChannelStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Delivers the outbox. Each receiver (webhook) is its own lane: at most `perWebhook` attempts
/// in flight per webhook and `overall` in all, each attempt a task of its own that nobody waits
/// for — a slow, failing or unreachable receiver fills only its own lane, every other lane goes
/// on. Per (webhook, channel) events go out in order: a channel's next event waits until the
/// one before it is delivered or scheduled for retry. Wakes when told an event was queued (low
/// latency), when an attempt ends, and otherwise polls. The outbox is the queue: nothing is held
/// in memory beyond the attempts in flight, whatever the backlog. At-least-once: a crash between
/// sending and recording means the receiver may see an event twice (same `webhook-id`).
public final class WebhookDispatcher: Service, Sendable {
    public struct Outcome: Sendable {
        public var statusCode: Int?
        public var latencyMs: Int
        public var excerpt: String?
        public var delivered: Bool
    }

    let store: any ChannelStore
    let transport: any WebhookTransport
    let schedule: RetrySchedule
    let timeout: TimeInterval
    let logger: Logger
    /// Lane sizes: attempts in flight per webhook, and across all webhooks.
    let perWebhook: Int
    let overall: Int
    private let outcomes = NIOLockedValueBox([String: Int]())
    /// Attempts by outcome (`delivered`, `retry`, `failed`) since start, for `/metrics`.
    public var outcomeCounts: [String: Int] { outcomes.withLockedValue { $0 } }

    /// Deliveries waiting (first attempts and retries) and the age of the oldest, on this
    /// dispatcher's clock; nil when the store cannot say (an outage).
    public func backlog() async -> (pending: Int, oldestAgeSeconds: Double)? {
        guard let b = try? await store.webhookBacklog() else { return nil }
        return (b.pending, b.oldestCreatedAt.map { max(0, clock.now().timeIntervalSince($0)) } ?? 0)
    }
    private let wakeup: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    let pollInterval: Duration
    let disableAfter: TimeInterval?
    let clock: any WebhookClock
    /// This node's id: its claims on shared outbox rows (issue #14 item 4) carry it.
    let nodeId: String
    /// How long a claim holds: the attempt's timeout and 10 s to record it (a store write that
    /// takes longer is cut by `StoreDeadline`). A node that
    /// dies mid-attempt loses nothing: its claim expires and another node's dispatcher retries.
    var claimDuration: TimeInterval { timeout + 10 }
    /// Webhook id → deliveries in flight.
    private let inFlight = NIOLockedValueBox([String: Set<String>]())

    /// Attempts whose outcome the store did not take (it failed mid-attempt): recorded as soon
    /// as the store answers, before anything else is sent. Their rows stay in flight meanwhile,
    /// so the channel's later events wait behind them (order) instead of overtaking them.
    private let unrecorded = NIOLockedValueBox([DeliveryAttempt]())

    /// Records the outcomes the store failed to take; false while it still fails.
    func recordUnrecorded() async -> Bool {
        while let next = unrecorded.withLockedValue({ $0.first }) {
            do {
                try await record(next)
            } catch {
                return false
            }
            _ = unrecorded.withLockedValue { $0.removeFirst() }
            logger.info("webhook delivery outcome recorded after a store failure", metadata: ["delivery": "\(next.deliveryId)", "outcome": "\(Self.outcomeName(next.state))"])
        }
        return true
    }

    /// Records one attempt; a webhook this attempt disabled is reported, and its
    /// `webhook.disabled` event (queued in the same transaction) sent to the others.
    private func record(_ attempt: DeliveryAttempt) async throws {
        guard let disabled = try await store.recordAttempt(attempt, now: clock.now()) else { return }
        logger.warning("webhook disabled: its deliveries kept failing", metadata: [
            "webhook.id": "\(disabled.id)", "reason": "\(disabled.disabledReason ?? "")",
        ])
        wakeup.yield()
    }

    /// The word for a state in logs and metrics alike: a failed attempt that will be tried again is a `retry`.
    static func outcomeName(_ state: DeliveryRecord.State) -> String { state == .pending ? "retry" : state.rawValue }

    /// `disableAfter`: a webhook whose every attempt failed for this long is disabled
    /// (`webhooks.disableAfterDays`, 5 days; nil: never).
    public init(store: any ChannelStore, transport: any WebhookTransport, schedule: RetrySchedule = RetrySchedule(), timeout: TimeInterval = 5,
                pollInterval: Duration = .milliseconds(500), perWebhook: Int = 4, overall: Int = 64,
                disableAfter: TimeInterval? = 5 * 86_400, clock: any WebhookClock = SystemWebhookClock(), nodeId: String = "", logger: Logger) {
        self.nodeId = nodeId
        self.disableAfter = disableAfter
        self.clock = clock
        self.store = store
        self.transport = transport
        self.schedule = schedule
        self.timeout = timeout
        self.pollInterval = pollInterval
        self.perWebhook = max(1, perWebhook)
        self.overall = max(1, overall)
        self.logger = logger
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Called after events are committed: deliver now rather than at the next poll.
    public func notify() { wakeup.yield() }

    /// Attempts in flight now, per webhook (tests, diagnostics).
    public var attemptsInFlight: [String: Int] { inFlight.withLockedValue { $0.mapValues(\.count) } }

    public func run() async throws {
        do {
            try await store.resetInFlightDeliveries(node: nodeId)
        } catch {
            logger.error("could not reset in-flight deliveries", metadata: ["error": "\(StoreFactory.describe(error))"])
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                // Ticker: turns the poll interval into wake-ups.
                group.addTask { [pollInterval, wakeup] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: pollInterval)
                        wakeup.yield()
                    }
                }
                for await _ in wakeups {
                    if Task.isCancelled { break }
                    await dispatchDue(into: &group)
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [wakeup] in
            // Stop taking new work; anything undelivered stays in the outbox for the next start.
            wakeup.finish()
        }
        // Attempts the stop cut short: due again now, for any node (not after their claims expire).
        do {
            try await store.resetInFlightDeliveries(node: nodeId)
        } catch {
            logger.notice("in-flight webhook deliveries left to their claims' expiry", metadata: ["error": "\(StoreFactory.describe(error))"])
        }
        logger.info("webhook dispatcher stopped")
    }

    /// Starts every due attempt that has room and waits until they have all ended (tests step
    /// a manual clock with this instead of running the service).
    public func deliverDue() async {
        await withDiscardingTaskGroup { group in await dispatchDue(into: &group) }
    }

    /// Starts an attempt for every due delivery whose lane has room; returns without waiting.
    func dispatchDue(into group: inout DiscardingTaskGroup) async {
        // Outcomes the store missed come first: until they are recorded, nothing newer goes out.
        guard await recordUnrecorded() else { return }
        let now = clock.now()
        let hooks: [String]
        do {
            // Another node died holding claims: what it had in flight is due again.
            if try await store.releaseExpiredClaims(now: now) > 0 {
                logger.notice("webhook deliveries of an unresponsive node are due again (their claims expired)")
            }
            hooks = try await store.webhooksWithDueDeliveries(now: now)
        } catch {
            logger.error("webhook outbox read failed", metadata: ["error": "\(StoreFactory.describe(error))"])
            return
        }
        for hook in hooks.shuffled() {
            let (busy, total) = inFlight.withLockedValue { ($0[hook]?.count ?? 0, $0.values.reduce(0) { $0 + $1.count }) }
            let room = min(perWebhook - busy, overall - total)
            guard room > 0 else { continue }
            let due: [(delivery: DeliveryRecord, webhook: Webhook, payload: String)]
            do {
                due = try await store.dueDeliveries(now: now, limit: room, webhookId: hook)
            } catch {
                logger.error("webhook outbox read failed", metadata: ["error": "\(StoreFactory.describe(error))"])
                return
            }
            for item in due {
                // Taken by someone else meanwhile (redelivery, deletion)? Then skip it.
                // Claimed by one node at a time; taken by another node (or a redelivery, a deletion) meanwhile? Then skip it.
                let claimedAt = clock.now()
                guard (try? await store.claimDelivery(deliveryId: item.delivery.id, node: nodeId, claimUntil: claimedAt.addingTimeInterval(claimDuration),
                                                      now: claimedAt)) == true else { continue }
                inFlight.withLockedValue { _ = $0[hook, default: []].insert(item.delivery.id) }
                group.addTask { [self] in
                    _ = await attempt(item.delivery, webhook: item.webhook, payload: item.payload, claimedBy: nodeId)
                    inFlight.withLockedValue { lanes in
                        lanes[hook]?.remove(item.delivery.id)
                        if lanes[hook]?.isEmpty == true { lanes[hook] = nil }
                    }
                    wakeup.yield() // room in this lane: look for more
                }
            }
        }
    }

    /// One attempt: sign, POST, record the outcome and schedule the retry.
    @discardableResult
    /// `claimedBy`: the claim it runs under (the outcome is recorded only while the claim holds).
    /// One attempt, recorded. `retried: false` (a test ping) makes it the only one: `failed`
    /// when it fails, never queued again.
    public func attempt(_ delivery: DeliveryRecord, webhook: Webhook, payload: String, claimedBy: String? = nil, retried: Bool = true) async -> Outcome {
        let timestamp = Int(clock.now().timeIntervalSince1970)
        let headers = [("content-type", "application/json"), ("user-agent", "LiveGate-Webhooks/1"),
                       ("webhook-id", delivery.eventId), ("webhook-timestamp", String(timestamp)),
                       ("webhook-signature", WebhookSignature.header(secrets: webhook.signingSecrets(at: clock.now()), id: delivery.eventId,
                                                                      timestamp: timestamp, body: payload))]
        let start = ContinuousClock.now
        var outcome = Outcome(statusCode: nil, latencyMs: 0, excerpt: nil, delivered: false)
        do {
            let (status, body) = try await transport.post(url: webhook.url, headers: headers, body: payload, timeout: timeout)
            outcome.statusCode = status
            outcome.excerpt = String(body.prefix(512))
            outcome.delivered = (200..<300).contains(status)
        } catch {
            outcome.excerpt = String("\(error)".prefix(512))
        }
        let elapsed = ContinuousClock.now - start
        outcome.latencyMs = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        // Cut short by this node's stop, not refused by the receiver: no attempt is counted (a
        // retry delay here would hold the channel's later events back); `run()` hands the claim
        // back so another node — or this one restarted — sends it at once.
        if Task.isCancelled && !outcome.delivered && claimedBy != nil { return outcome }
        let attempt = delivery.attempt + 1
        let now = clock.now()
        var state: DeliveryRecord.State = outcome.delivered ? .delivered : .pending
        var next = now
        if !outcome.delivered && !retried {
            state = .failed
        } else if !outcome.delivered {
            next = now.addingTimeInterval(schedule.delay(afterFailedAttempts: attempt))
            if next.timeIntervalSince(delivery.retryWindowStart) > schedule.giveUpAfter { state = .failed }
        }
        let record = DeliveryAttempt(deliveryId: delivery.id, webhookId: webhook.id, attempt: attempt, state: state, statusCode: outcome.statusCode,
                                     latencyMs: outcome.latencyMs, excerpt: outcome.excerpt, nextAttemptAt: next, disableAfter: disableAfter,
                                     claimedBy: claimedBy)
        do {
            try await self.record(record)
        } catch {
            logger.error("webhook delivery outcome not recorded; kept until the store answers",
                         metadata: ["delivery": "\(delivery.id)", "error": "\(StoreFactory.describe(error))"])
            unrecorded.withLockedValue { $0.append(record) }
        }
        outcomes.withLockedValue { $0[Self.outcomeName(state), default: 0] += 1 }
        logger.log(level: outcome.delivered ? .debug : .notice, "webhook delivery", metadata: [
            "webhook.id": "\(webhook.id)", "event.type": "\(delivery.eventType)", "event.id": "\(delivery.eventId)",
            "attempt": "\(attempt)", "status": "\(outcome.statusCode.map(String.init) ?? "-")", "outcome": "\(Self.outcomeName(state))",
            "latency.ms": "\(outcome.latencyMs)",
        ])
        return outcome
    }
}
