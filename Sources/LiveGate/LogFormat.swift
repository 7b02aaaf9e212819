import LiveGateModel
import Foundation
import Logging
import NIOConcurrencyHelpers

/// What every line of this process says about where it comes from: the node id, once it is
/// known (set by `buildApplication` as soon as the identity is resolved), so a fleet's logs
/// gathered in one place say which node wrote each line.
public enum LogContext {
    private static let node = NIOLockedValueBox<String?>(nil)
    public static var nodeId: String? {
        get { node.withLockedValue { $0 } }
        set { node.withLockedValue { $0 = newValue } }
    }
}

/// One line per log event, as plain `key=value` text or as a JSON object, to stderr.
/// Metadata keys are emitted sorted so lines are stable and greppable.
public struct LiveGateLogHandler: LogHandler {
    public enum Format: String, Sendable { case text, json }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let label: String
    public let format: Format

    public init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(Data((line(for: event, at: Date()) + "\n").utf8))
    }

    /// The line for `event`, without the newline (separate from writing so tests can check it).
    public func line(for event: LogEvent, at date: Date) -> String {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if merged["node.id"] == nil, let node = LogContext.nodeId { merged["node.id"] = .string(node) }
        // Not ISO8601DateFormatter: its static `string(from:…)` builds an ICU formatter per call.
        let time = Timestamp.format(date)
        let line: String
        switch format {
        case .text:
            var s = "\(time) \(event.level.rawValue.uppercased()) [\(label)] \(Self.scrubBuildPaths("\(event.message)"))"
            for (k, v) in merged.sorted(by: { $0.key < $1.key }) { s += " \(k)=\(Self.quoteIfNeeded(Self.scrubBuildPaths("\(v)")))" }
            line = s
        case .json:
            var object: [String: Any] = ["ts": time, "level": event.level.rawValue, "logger": label, "msg": Self.scrubBuildPaths("\(event.message)")]
            for (k, v) in merged {
                // The line's own keys stay what they are: a metadata key `level` (an H.264
                // level, say) is written as `meta.level`, never over the log level.
                let key = Self.reservedJSONKeys.contains(k) ? "meta." + k : k
                let text = Self.scrubBuildPaths("\(v)")
                object[key] = Self.jsonNumber(text) ?? text
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        return line
    }

    static let reservedJSONKeys: Set<String> = ["ts", "level", "logger", "msg"]

    /// A metadata value that is a plain decimal number is written as a JSON number
    /// (`"latency.ms": 12`, not `"12"`), so log tools can compare and sum it.
    static func jsonNumber(_ text: String) -> NSNumber? {
        guard !text.isEmpty, text.count <= 24, text.first == "-" || text.first!.isASCII && text.first!.isNumber else { return nil }
        guard text.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#, options: .regularExpression) != nil else { return nil }
        if let n = Int64(text) { return NSNumber(value: n) }
        if let d = Double(text), d.isFinite { return NSNumber(value: d) }
        return nil
    }

    /// The source tree this binary was built from (`/src` in the Docker build). C libraries
    /// (BoringSSL's error stack, libav) and Swift errors can put `__FILE__`/`#file` paths into a
    /// message; a log line shows only the file's name instead.
    static let buildRoot: String = {
        let file = "\(#filePath)"
        guard let range = file.range(of: "/Sources/LiveGate/") else { return "" }
        return String(file[..<range.lowerBound])
    }()

    static let buildRootPrefix = buildRoot + "/"

    static func scrubBuildPaths(_ line: String, root: String = buildRoot) -> String {
        let prefix = root == buildRoot ? buildRootPrefix : root + "/"
        guard !root.isEmpty, line.contains(prefix) else { return line }
        var out = ""
        var rest = Substring(line)
        while let range = rest.range(of: prefix) {
            out += rest[..<range.lowerBound]
            let tail = rest[range.upperBound...]
            let end = tail.firstIndex { $0.isWhitespace || "\"',)]}".contains($0) } ?? tail.endIndex
            out += tail[..<end].split(separator: "/").last.map(String.init) ?? ""
            rest = tail[end...]
        }
        return out + rest
    }

    static func quoteIfNeeded(_ s: String) -> String {
        s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || s.isEmpty
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : s
    }
}
