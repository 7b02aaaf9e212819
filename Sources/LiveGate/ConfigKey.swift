import LiveGateModel
import Foundation
import RTMPServer

/// One documented configuration key: its dotted path, default, and how to validate a value.
/// The table in `LiveGateConfiguration.keys` is the single source for the file parser, the
/// environment mapping (`LIVEGATE_` + upper snake case) and `check-config`.
public struct ConfigKey: Sendable {
    public enum Kind: Sendable {
        case int(ClosedRange<Int>)
        case double(ClosedRange<Double>)
        case string
        /// A path that, when set, must name a readable file (checked by `check-config` too).
        case readableFile
        /// Comma-separated addresses or CIDR blocks (`10.0.0.0/8, 127.0.0.2`).
        case cidrList
        case oneOf([String])
        case bool
    }

    public let path: String
    public let kind: Kind
    public let defaultValue: String
    public let help: String

    public init(_ path: String, _ kind: Kind, default defaultValue: String, _ help: String) {
        self.path = path
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `rtmp.maxConnectionsPerIP` → `LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP`.
    public var environmentName: String {
        var out = "LIVEGATE_"
        var previous: Character = "."
        for ch in path {
            if ch == "." {
                out.append("_")
            } else {
                if ch.isUppercase && (previous.isLowercase || previous.isNumber) { out.append("_") }
                out.append(contentsOf: ch.uppercased())
            }
            previous = ch
        }
        return out
    }

    /// Returns a reason when `value` is not acceptable for this key.
    public func validate(_ value: String) -> String? {
        switch kind {
        case .int(let range):
            guard let n = Int(value) else { return "must be an integer" }
            return range.contains(n) ? nil : "must be between \(range.lowerBound) and \(range.upperBound)"
        case .double(let range):
            guard let n = Double(value), n.isFinite else { return "must be a number" }
            return range.contains(n) ? nil : "must be between \(range.lowerBound) and \(range.upperBound)"
        case .string:
            return nil
        case .readableFile:
            return value.isEmpty || FileManager.default.isReadableFile(atPath: value) ? nil : "cannot read the file"
        case .oneOf(let options):
            return options.contains(value) ? nil : "must be one of \(options.joined(separator: ", "))"
        case .bool:
            return ["true", "false"].contains(value.lowercased()) ? nil : "must be true or false"
        case .cidrList:
            let bad = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { CIDRBlock($0) == nil }
            return bad.isEmpty ? nil : "not an address or CIDR block: \(bad.joined(separator: ", "))"
        }
    }
}
