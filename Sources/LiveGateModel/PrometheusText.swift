/// Writes the Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then
/// `name{label="value"} number` lines, with label values escaped as the format requires.
public struct PrometheusText: Sendable {
    public private(set) var text = ""
    private var declared: Set<String> = []

    public init() {}

    public enum Kind: String, Sendable { case counter, gauge }

    /// Declares a metric family once (HELP and TYPE lines).
    public mutating func family(_ name: String, _ kind: Kind, help: String) {
        guard declared.insert(name).inserted else { return }
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(kind.rawValue)\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        var line = name
        if !labels.isEmpty {
            line += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        let number = value.isFinite ? (value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)) : (value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf"))
        text += "\(line) \(number)\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Supplies `/metrics`.
public protocol MetricsProvider: Sendable {
    func prometheusText() async -> String
}
