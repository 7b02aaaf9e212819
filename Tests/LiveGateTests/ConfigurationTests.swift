import Foundation
import LiveGate
import XCTest

final class ConfigurationTests: XCTestCase {
    func testDefaultsMatchTheSpec() {
        let c = LiveGateConfiguration(file: nil, environment: [:])
        XCTAssertTrue(c.problems.isEmpty)
        XCTAssertEqual(c.rtmp.port, 1935)
        XCTAssertEqual(c.int("http.port"), 8080)
        XCTAssertEqual(c.rtmp.handshakeTimeoutSeconds, 5)
        XCTAssertEqual(c.rtmp.limits.maxMessageBytes, 8 * 1024 * 1024)
        XCTAssertEqual(c.rtmp.maxConnections, 10_000)
        XCTAssertEqual(c.rtmp.maxConnectionsPerIP, 50)
        XCTAssertEqual(c.rtmp.failedPublishesPerMinute, 10)
        XCTAssertEqual(c.rtmp.mediaTimeoutSeconds, 10)
        XCTAssertEqual(c.rtmp.allowedApps, ["live"])
    }

    func testPrecedenceFlagsOverEnvironmentOverFileOverDefaults() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-\(UUID()).yaml")
        try "rtmp:\n  port: 2000\n  maxConnectionsPerIP: 7\nlog:\n  format: json\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let c = LiveGateConfiguration(file: file.path,
                                      environment: ["LIVEGATE_RTMP_PORT": "3000", "LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP": "9"],
                                      overrides: ["rtmp.port": "4000"])
        XCTAssertTrue(c.problems.isEmpty, "\(c.problems)")
        XCTAssertEqual(c.rtmp.port, 4000, "flag wins")
        XCTAssertEqual(c.rtmp.maxConnectionsPerIP, 9, "environment beats file")
        XCTAssertEqual(c.string("log.format"), "json", "file beats default")
    }

    func testEnvironmentNamesFollowUpperSnakeCase() {
        let names = Set(LiveGateConfiguration.keys.map(\.environmentName))
        for expected in ["LIVEGATE_RTMP_PORT", "LIVEGATE_HTTP_PORT", "LIVEGATE_PUBLIC_HOST", "LIVEGATE_DATABASE_URL",
                         "LIVEGATE_DATA_DIR", "LIVEGATE_LOG_LEVEL", "LIVEGATE_LOG_FORMAT", "LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP",
                         "LIVEGATE_FORWARDS_TLS_CA_FILE", "LIVEGATE_FORWARDS_TLS_VERIFY"] {
            XCTAssertTrue(names.contains(expected), expected)
        }
    }

    func testUnknownKeysAndBadValuesAreReportedWithFileAndKey() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-\(UUID()).yaml")
        try "rtmp:\n  port: 99999\n  portt: 1\nlog:\n  format: xml\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let c = LiveGateConfiguration(file: file.path, environment: ["LIVEGATE_RTMP_HANDSHAKE_TIMEOUT_SEC": "soon",
                                                                     "LIVEGATE_FORWARDS_TLS_CA_FILE": "/nonexistent/ca.pem"])
        let text = c.problems.map(\.description)
        XCTAssertTrue(text.contains { $0.contains(file.path) && $0.contains("rtmp.port") && $0.contains("between 0 and 65535") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("rtmp.portt") && $0.contains("unknown key") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("log.format") && $0.contains("one of text, json") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("LIVEGATE_RTMP_HANDSHAKE_TIMEOUT_SEC") && $0.contains("must be a number") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("forwards.tlsCaFile") && $0.contains("cannot read the file") }, "\(text)")
    }

    /// `rtmp.trustedProxies` as a YAML list or the environment's comma list; a bad entry named.
    func testTrustedProxiesTakeAListOrACommaListAndNameABadEntry() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lg-\(UUID()).yaml")
        try "rtmp:\n  proxyProtocol: v2\n  trustedProxies: [10.0.0.0/8, 127.0.0.2, \"2001:db8::/32\"]\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let listed = LiveGateConfiguration(file: file.path, environment: [:])
        XCTAssertEqual(listed.problems, [])
        XCTAssertEqual(listed.rtmp.proxyProtocol, .v2)
        XCTAssertEqual(listed.rtmp.trustedProxies.map(\.description), ["10.0.0.0/8", "127.0.0.2/32", "2001:db8:0:0:0:0:0:0/32"])
        let env = LiveGateConfiguration(file: nil, environment: ["LIVEGATE_RTMP_TRUSTED_PROXIES": "192.168.1.0/24, 10.1.2.3/33"])
        XCTAssertTrue(env.problems.map(\.description).contains { $0.contains("rtmp.trustedProxies") || $0.contains("LIVEGATE_RTMP_TRUSTED_PROXIES") },
                      "\(env.problems)")
        XCTAssertTrue(env.problems.map(\.description).contains { $0.contains("10.1.2.3/33") }, "\(env.problems)")
    }

    func testSampleConfigFileDocumentsEveryKeyWithItsDefault() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("config/livegate.yaml").path
        let c = LiveGateConfiguration(file: path, environment: [:])
        XCTAssertTrue(c.problems.isEmpty, "\(c.problems)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in LiveGateConfiguration.keys {
            XCTAssertTrue(text.contains(String(key.path.split(separator: ".").last!) + ":"), "\(key.path) is not documented in config/livegate.yaml")
        }
        let defaults = LiveGateConfiguration(file: nil, environment: [:])
        for key in LiveGateConfiguration.keys {
            XCTAssertEqual(c.string(key.path), defaults.string(key.path), "\(key.path): sample file must show the default")
        }
    }
}
