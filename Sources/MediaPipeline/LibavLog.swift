internal import CFFmpeg
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Routes libav's own log (`av_log`) into the gateway's logger, so an operator reading JSON
/// logs gets libav's reasons — "Peer certificate failed verification", "Connection refused" —
/// as structured lines (`component=tls`) instead of raw text on stderr between them. Stream
/// keys inside URLs are masked like everywhere else. Only errors and worse are kept: libav's
/// warnings can come once per packet.
enum LibavLog {
    private static let target = NIOLockedValueBox<Logger?>(nil)

    /// Sends libav's messages to `logger` from now on (the latest call wins).
    static func install(_ logger: Logger) {
        target.withLockedValue { $0 = logger }
        installed
    }

    private static let installed: Void = { lg_libav_log_install(AV_LOG_ERROR) }()

    /// One formatted line from the shim's callback, on whichever thread logged (output
    /// threads). Must not block: the Logger's handler does its own locking.
    fileprivate static func line(_ context: UnsafeMutableRawPointer?, _ level: Int32, _ text: String) {
        let message = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty, let logger = target.withLockedValue({ $0 }) else { return }
        logger.log(level: Self.level(level), "\(redact(message))", metadata: ["component": "\(component(context))"])
    }

    /// The logging object's name: "tls", "rtmp", "hls", "mp4"…
    private static func component(_ context: UnsafeMutableRawPointer?) -> String {
        guard let context, let avClass = context.load(as: UnsafePointer<AVClass>?.self) else { return "libav" }
        if let itemName = avClass.pointee.item_name, let name = itemName(context) { return String(cString: name) }
        return avClass.pointee.class_name.map { String(cString: $0) } ?? "libav"
    }

    static func level(_ avLevel: Int32) -> Logger.Level {
        switch avLevel {
        case ...AV_LOG_FATAL: .critical
        case ...AV_LOG_ERROR: .error
        case ...AV_LOG_WARNING: .warning
        case ...AV_LOG_INFO: .info
        default: .debug
        }
    }

    /// Masks the last path segment of every rtmp(s):// URL (a target's stream key).
    static func redact(_ message: String) -> String {
        message.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            guard word.contains("rtmp://") || word.contains("rtmps://") else { return String(word) }
            let trailing = word.reversed().prefix { ":,;.".contains($0) }
            let url = word.dropLast(trailing.count)
            guard let start = url.range(of: "rtmp")?.lowerBound else { return String(word) }
            return String(url[..<start]) + ForwardPusher.redact(String(url[start...])) + String(trailing.reversed())
        }.joined(separator: " ")
    }
}

/// The shim's `lg_libav_log_line`, called from C for every libav message that passes the level.
@_cdecl("lg_libav_log_line")
func lgLibavLogLine(_ context: UnsafeMutableRawPointer?, _ level: Int32, _ line: UnsafePointer<CChar>?) {
    guard let line else { return }
    LibavLog.line(context, level, String(cString: line))
}
