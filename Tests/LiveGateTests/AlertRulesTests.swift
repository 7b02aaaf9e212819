import Foundation
import TestSupport
import XCTest

/// The shipped Prometheus alert rules (`docker/prometheus/livegate-alerts.yml`) are valid and
/// fire when they should, checked by Prometheus's own `promtool` (Debian's `prometheus`
/// package): `check rules`, then the unit tests beside them (`test rules`).
final class AlertRulesTests: XCTestCase {
    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docker/prometheus")
    }

    func testTheShippedAlertRulesPassPromtool() async throws {
        let check = try await ProcessRunner.run("promtool", ["check", "rules", Self.folder.appendingPathComponent("livegate-alerts.yml").path], timeout: 30)
        XCTAssertEqual(check.exitCode, 0, "promtool check rules (install it: scripts/install-deps.sh): \(check.stdout)\(check.stderr)")
        XCTAssertTrue(check.stdout.contains("SUCCESS: 6 rules found"), check.stdout)
        let test = try await ProcessRunner.run("promtool", ["test", "rules", Self.folder.appendingPathComponent("livegate-alerts.test.yml").path], timeout: 30)
        XCTAssertEqual(test.exitCode, 0, "promtool test rules: \(test.stdout)\(test.stderr)")
        XCTAssertTrue(test.stdout.contains("SUCCESS"), test.stdout)
    }

    /// Every LiveGate metric a rule reads is one the gateway exports (the rules cannot drift
    /// from `/metrics`: ApplicationSeamTests checks the names against a running gateway).
    static func metricNamesInRules() throws -> Set<String> {
        let text = try String(contentsOf: folder.appendingPathComponent("livegate-alerts.yml"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"\blivegate_[a-z_]+\b"#)
        let names = regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { Range($0.range, in: text).map { String(text[$0]) } }
        return Set(names).subtracting(["livegate_alerts"])
    }
}
