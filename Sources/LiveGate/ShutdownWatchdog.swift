import LiveGateModel
import Dispatch
import Foundation
import Logging

/// docs/contract.md §6: after SIGTERM the process exits within 10 s. The services shut down in order and
/// normally finish in well under that; this is the guarantee when one of them does not (a
/// library call that never completes — seen once in a full test run, a PostgreSQL outage at
/// shutdown, with every thread idle). It watches the signals on its own Dispatch source, apart
/// from the service group and the Swift task pool, so a stuck task cannot stop it, and exits
/// with EX_SOFTWARE (70) and one log line once `deadline` has passed since the first signal.
/// Whatever the shutdown kept for the next start (pending ends, the outbox) is on disk by then.
public final class ShutdownWatchdog {
    private let sources: [any DispatchSourceSignal]

    public init(deadline: TimeInterval = 9.5, logger: Logger, signals: [Int32] = [SIGTERM, SIGINT]) {
        let queue = DispatchQueue(label: "livegate.shutdown-watchdog")
        sources = signals.map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler {
                // Said when the signal arrives, whatever the services are doing.
                logger.notice("signal received; stopping", metadata: ["signal": "\(signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "\(signal)")",
                                                                     "deadline.sec": "\(deadline)"])
                queue.asyncAfter(deadline: .now() + deadline) {
                    logger.critical("shutdown did not finish in time; exiting", metadata: ["deadline.sec": "\(deadline)"])
                    exit(70)
                }
            }
            source.resume()
            return source
        }
    }

    deinit { sources.forEach { $0.cancel() } }
}
