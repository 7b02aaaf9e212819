import Foundation
import LiveGate
import XCTest
import Yams

/// No Docker engine runs here, so check what can be checked: the compose file's services,
/// ports and environment against the configuration keys, and the Dockerfile's essentials.
final class DockerFilesTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testComposeMatchesTheConfiguration() throws {
        let text = try String(contentsOf: root.appendingPathComponent("docker/compose.yaml"), encoding: .utf8)
        let compose = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        let services = try XCTUnwrap(compose["services"] as? [String: Any])
        XCTAssertEqual(Set(services.keys), ["livegate", "postgres"])
        let postgres = try XCTUnwrap(services["postgres"] as? [String: Any])
        XCTAssertEqual(postgres["image"] as? String, "postgres:15")
        XCTAssertNotNil(postgres["healthcheck"])
        let livegate = try XCTUnwrap(services["livegate"] as? [String: Any])
        XCTAssertEqual(Set(livegate["ports"] as? [String] ?? []), ["1935:1935", "1936:1936", "8080:8080"])
        let env = try XCTUnwrap(livegate["environment"] as? [String: Any])
        let known = Set(LiveGateConfiguration.keys.map(\.environmentName)).union(["LIVE_TOKEN_ID", "LIVE_TOKEN_SECRET"])
        for name in env.keys { XCTAssertTrue(known.contains(name), "\(name) is not a configuration variable") }
        let url = try XCTUnwrap(env["LIVEGATE_DATABASE_URL"] as? String)
        XCTAssertTrue(url.hasPrefix("postgres://") && url.contains("@postgres:5432/"), url)
        // The environment it sets must pass the gateway's own validation.
        let config = LiveGateConfiguration(file: nil, environment: env.compactMapValues { $0 as? String }.filter { !$0.value.contains("${") })
        XCTAssertTrue(config.problems.isEmpty, "\(config.problems)")
        let depends = livegate["depends_on"] as? [String: Any]
        XCTAssertEqual((depends?["postgres"] as? [String: Any])?["condition"] as? String, "service_healthy")
    }

    func testDockerfileIsMultiStageNonRootWithHealthcheck() throws {
        let text = try String(contentsOf: root.appendingPathComponent("docker/Dockerfile"), encoding: .utf8)
        XCTAssertGreaterThanOrEqual(text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }.count, 2, "multi-stage")
        XCTAssertTrue(text.contains("AS build"))
        XCTAssertTrue(text.contains("FROM debian:bookworm-slim"))
        XCTAssertTrue(text.contains("USER livegate"))
        XCTAssertTrue(text.contains("HEALTHCHECK") && text.contains("/healthz"))
        for port in ["1935", "1936", "8080"] { XCTAssertTrue(text.contains(port), port) }
        XCTAssertTrue(text.contains("VOLUME"))
        // The runtime stage installs the libav libraries the binary actually links.
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [gatewayBinary]
        let pipe = Pipe()
        ldd.standardOutput = pipe
        try ldd.run()
        let linked = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        let sonames = linked.split(separator: "\n").compactMap { line -> String? in
            let name = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            return name.hasPrefix("libav") ? name : nil
        }
        XCTAssertEqual(Set(sonames.map { $0.split(separator: ".").first ?? "" }), ["libavformat", "libavcodec", "libavutil"], linked)
        for soname in sonames {
            // libavformat.so.59 → Debian package libavformat59
            let parts = soname.split(separator: ".")
            let package = "\(parts[0])\(parts.last ?? "")"
            XCTAssertTrue(text.contains(package), "the runtime image must install \(package)")
        }
        XCTAssertTrue(text.contains("libavformat-dev"), "the build stage needs the headers")
        // The config file it copies in is valid.
        let config = LiveGateConfiguration(file: root.appendingPathComponent("config/livegate.yaml").path, environment: [:])
        XCTAssertTrue(config.problems.isEmpty)
    }
}
