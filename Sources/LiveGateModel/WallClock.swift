import Foundation

/// The one clock design for what LiveGate records and decides by (docs/architecture.md,
/// "Habits"): the webhook dispatcher (`WebhookClock`) and the ingest coordinator (`IngestClock`)
/// both read a `WallClock`, so a test can drive them together with one `ManualWallClock`.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system's wall clock: what `serve` runs on.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A wall clock that stands still until a test moves it.
public final class ManualWallClock: WallClock {
    private let current: LockedDate

    /// Starts at `start`, by default the last whole second: what is recorded then lands in the
    /// store's millisecond timestamps exactly.
    public init(_ start: Date = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 1)) {
        current = LockedDate(start)
    }

    public func now() -> Date { current.get() }
    public func set(_ date: Date) { current.set(date) }
    public func advance(by seconds: TimeInterval) { current.update { $0.addingTimeInterval(seconds) } }
}

/// A date behind a lock (LiveGateModel imports Foundation only).
private final class LockedDate: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ value: Date) { self.value = value }
    func get() -> Date { lock.withLock { value } }
    func set(_ date: Date) { lock.withLock { value = date } }
    func update(_ change: (Date) -> Date) { lock.withLock { value = change(value) } }
}
