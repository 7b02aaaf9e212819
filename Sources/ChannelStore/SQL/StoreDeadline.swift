import LiveGateModel
import Foundation
import NIOConcurrencyHelpers

/// A PostgreSQL store call that has not finished after `StoreDeadline.seconds` fails with
/// `StoreDeadline.Exceeded` (an outage: 503 in the API) instead of waiting for ever.
///
/// Why: with PostgreSQL's connections being ended under load (a restart, `pg_terminate_backend`),
/// an AsyncKit pool request was seen never to complete — `PostgresChannelStoreTests.
/// testAReadOnAConnectionTheServerEndedIsRetried` parked a reader for minutes, no thread
/// running, like the shutdown that once parked during an outage. The call runs in its own task
/// and the caller is answered by whichever comes first, the call or the deadline; a call that
/// never returns is abandoned (and logged by the caller's error path), not awaited.
enum StoreDeadline {
    static let seconds: Double = 10

    struct Exceeded: Error, CustomStringConvertible {
        var description: String { "the store did not answer within \(Int(StoreDeadline.seconds)) s" }
    }

    static func run<R: Sendable>(_ operation: @escaping @Sendable () async throws -> R) async throws -> R {
        let answered = NIOLockedValueBox(false)
        let timer = NIOLockedValueBox<Task<Void, Never>?>(nil)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            func answer(_ result: Result<R, any Error>) {
                guard answered.withLockedValue({ done in defer { done = true }; return !done }) else { return }
                continuation.resume(with: result)
            }
            let work = Task {
                do { answer(.success(try await operation())) } catch { answer(.failure(error)) }
                timer.withLockedValue { $0?.cancel() }
            }
            timer.withLockedValue { slot in
                slot = Task {
                    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                    guard !Task.isCancelled else { return }
                    answer(.failure(Exceeded()))
                    work.cancel()
                }
            }
        }
    }
}
