import Foundation

/// How the SIGTERM promise — exit within 10 s (docs/contract.md §6) — is spent, in one place so
/// the parts add up: the services stop in order within `graceful` (swift-service-lifecycle then
/// cancels what is left), and `ShutdownWatchdog` ends the process with a logged exit at
/// `watchdog` if something still hangs. Nothing escalates to a crash (`maximumCancellationDuration`
/// stays unset: the library would `fatalError`).
public struct ShutdownBudget: Sendable, Equatable {
    /// What the process promises after SIGTERM.
    public static let promise: TimeInterval = 10

    /// Session ends and queued store writes still failing are retried this long, then kept on
    /// disk (`pending-ends.json`) for the next start.
    public var settleWrites: TimeInterval = 2
    /// Outputs finish: MP4 indexes written, recordings turned into videos.
    public var drainOutputs: TimeInterval = 4
    /// The store's connections close.
    public var closeStore: TimeInterval = 1.5
    /// The whole group's graceful shutdown, after which swift-service-lifecycle cancels it.
    public var graceful: TimeInterval = 8.5
    /// The last resort: a logged exit (EX_SOFTWARE) if the process is still there.
    public var watchdog: TimeInterval = 9.5

    public init() {}

    /// The steps fit in the graceful period, which ends before the watchdog, which fires before the promise.
    public var addsUp: Bool {
        settleWrites + drainOutputs + closeStore <= graceful && graceful < watchdog && watchdog < Self.promise
    }
}
