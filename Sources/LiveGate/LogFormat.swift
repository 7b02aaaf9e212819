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
        var text = line(for: event, at: Date()) + "\n"
        // One write(2) per line, as FileHandle did, without its Data copy: lines from several
        // threads do not interleave within a line.
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    /// The line for `event`, without the newline (separate from writing so tests can check it).
    /// Built byte by byte, with no Foundation formatter, string search or JSON serializer on
    /// the way: ten lines go with every publish, and formatting them was a third of the CPU a
    /// publish cost (docs/architecture.md, "What a publish costs").
    public func line(for event: LogEvent, at date: Date) -> String {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if merged["node.id"] == nil, let node = LogContext.nodeId { merged["node.id"] = .string(node) }
        let time = Timestamp.format(date)
        switch format {
        case .text:
            var out: [UInt8] = []
            out.reserveCapacity(160)
            out.append(contentsOf: time.utf8)
            out.append(0x20)
            out.append(contentsOf: event.level.rawValue.uppercased().utf8)
            out.append(contentsOf: " [".utf8)
            out.append(contentsOf: label.utf8)
            out.append(contentsOf: "] ".utf8)
            out.append(contentsOf: Self.scrubBuildPaths("\(event.message)").utf8)
            for (k, v) in merged.sorted(by: { $0.key < $1.key }) {
                out.append(0x20)
                out.append(contentsOf: k.utf8)
                out.append(UInt8(ascii: "="))
                Self.appendQuotedIfNeeded(Self.scrubBuildPaths("\(v)"), to: &out)
            }
            return String(decoding: out, as: UTF8.self)
        case .json:
            var object: [String: JSONValue] = ["ts": .string(time), "level": .string(event.level.rawValue), "logger": .string(label),
                                               "msg": .string(Self.scrubBuildPaths("\(event.message)"))]
            for (k, v) in merged {
                // The line's own keys stay what they are: a metadata key `level` (an H.264
                // level, say) is written as `meta.level`, never over the log level.
                let key = Self.reservedJSONKeys.contains(k) ? "meta." + k : k
                let text = Self.scrubBuildPaths("\(v)")
                object[key] = Self.jsonNumber(text).map(JSONValue.number) ?? .string(text)
            }
            return CanonicalJSON.serialize(.object(object))
        }
    }

    static let reservedJSONKeys: Set<String> = ["ts", "level", "logger", "msg"]

    /// A metadata value that is a plain decimal number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`,
    /// at most 24 characters) is written as a JSON number (`"latency.ms": 12`, not `"12"`), so
    /// log tools can compare and sum it. A whole number past 2^53 stays text: a double would
    /// change its digits.
    static func jsonNumber(_ text: String) -> Double? {
        let b = Array(text.utf8)
        guard !b.isEmpty, b.count <= 24 else { return nil }
        var i = 0
        func isDigit(_ at: Int) -> Bool { at < b.count && b[at] >= 48 && b[at] <= 57 }
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard isDigit(i) else { return nil }
        if b[i] == 48 { i += 1 } else { while isDigit(i) { i += 1 } }
        var whole = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard isDigit(i) else { return nil }
            while isDigit(i) { i += 1 }
            whole = false
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { return nil }
            while isDigit(i) { i += 1 }
            whole = false
        }
        guard i == b.count else { return nil }
        if whole {
            guard let n = Int64(text), n.magnitude <= 1 << 53 else { return nil }
            return Double(n)
        }
        guard let d = Double(text), d.isFinite else { return nil }
        return d
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
        guard !root.isEmpty, contains(line, prefix) else { return line }
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

    /// Whether `needle` occurs in `text`, compared as UTF-8 bytes (Foundation's `contains`
    /// goes through CFString for every value of every line).
    static func contains(_ text: String, _ needle: String) -> Bool {
        var text = text, needle = needle
        return text.withUTF8 { t in
            needle.withUTF8 { n in
                guard let first = n.first, t.count >= n.count else { return n.isEmpty }
                var i = 0
                while i <= t.count - n.count {
                    if t[i] == first && memcmp(t.baseAddress! + i, n.baseAddress!, n.count) == 0 { return true }
                    i += 1
                }
                return false
            }
        }
    }

    /// A value with a space, `"` or `=` in it (or none at all) is quoted, its quotes escaped.
    static func appendQuotedIfNeeded(_ s: String, to out: inout [UInt8]) {
        let needsQuotes = s.isEmpty || s.utf8.contains { $0 == 0x20 || $0 == 0x22 || $0 == 0x3D }
        guard needsQuotes else {
            out.append(contentsOf: s.utf8)
            return
        }
        out.append(0x22)
        for byte in s.utf8 {
            if byte == 0x22 { out.append(0x5C) }
            out.append(byte)
        }
        out.append(0x22)
    }
}
