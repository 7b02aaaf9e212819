import Logging
import NIOConcurrencyHelpers

/// Keeps every log record in memory so tests can assert that a connection was closed
/// *with a logged reason*, and that no line carries a secret.
public final class LogCapture: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let records = NIOLockedValueBox<[Record]>([])

    public init() {}

    public func logger(label: String = "test", level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    public var all: [Record] { records.withLockedValue { $0 } }

    public func matching(_ predicate: (Record) -> Bool) -> [Record] { all.filter(predicate) }

    fileprivate func append(_ record: Record) { records.withLockedValue { $0.append(record) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            capture.append(Record(level: event.level, message: "\(event.message)",
                                  metadata: merged.mapValues { "\($0)" }))
        }
    }
}
