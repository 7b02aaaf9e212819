import Foundation

extension Process {
    /// Starts the process with no signal blocked. The test runner's threads block SIGINT and
    /// SIGTERM (for the harness's own signal handling), and a child inherits the spawning
    /// thread's mask across exec: an `ffmpeg` started with `run()` ignores SIGINT, so it never
    /// closes its stream cleanly (no FCUnpublish) — a "clean stop" in a test would really be a
    /// dropped connection. Every process a test means to signal is started with this.
    public func runWithSignalsUnblocked() throws {
        var none = sigset_t()
        sigemptyset(&none)
        var previous = sigset_t()
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try run()
    }
}
