import Foundation
import LiveGate
import TestSupport
import XCTest
import Yams

/// No Docker engine runs here, so check what can be checked: the compose files against the
/// configuration keys, the Dockerfile's toolchain and pinned dependencies against what the suite
/// built with, and the runtime image's steps reproduced outside Docker (`testRuntimeImage…`).
final class DockerFilesTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func text(_ path: String) throws -> String { try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    /// `${NAME:-default}` / `${NAME:?message}` / `${NAME}` as compose interpolates them with `variables`.
    static func interpolate(_ value: String, _ variables: [String: String]) -> String {
        var out = "", rest = Substring(value)
        while let start = rest.range(of: "${"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            out += rest[..<start.lowerBound]
            let expression = rest[start.upperBound..<end]
            let name = expression.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            var replacement = variables[String(name)] ?? ""
            if replacement.isEmpty, let range = expression.range(of: ":-") { replacement = String(expression[range.upperBound...]) }
            out += replacement
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    func testComposeMatchesTheConfiguration() throws {
        let compose = try XCTUnwrap(try Yams.load(yaml: try text("docker/compose.yaml")) as? [String: Any])
        let services = try XCTUnwrap(compose["services"] as? [String: Any])
        XCTAssertEqual(Set(services.keys), ["livegate", "postgres"])
        let postgres = try XCTUnwrap(services["postgres"] as? [String: Any])
        XCTAssertEqual(postgres["image"] as? String, "postgres:15")
        XCTAssertNotNil(postgres["healthcheck"])
        let livegate = try XCTUnwrap(services["livegate"] as? [String: Any])
        for (name, service) in [("postgres", postgres), ("livegate", livegate)] {
            XCTAssertEqual(service["restart"] as? String, "unless-stopped", name)
        }
        // The password comes from the env file, required, never written here.
        let pgEnv = try XCTUnwrap(postgres["environment"] as? [String: Any])
        XCTAssertTrue((pgEnv["POSTGRES_PASSWORD"] as? String ?? "").hasPrefix("${POSTGRES_PASSWORD:?"), "\(pgEnv)")
        XCTAssertEqual(Set(livegate["ports"] as? [String] ?? []), ["1935:1935", "8080:8080"])
        let env = try XCTUnwrap(livegate["environment"] as? [String: Any]).compactMapValues { $0 as? String }
        let known = Set(LiveGateConfiguration.keys.map(\.environmentName)).union(["LIVE_TOKEN_ID", "LIVE_TOKEN_SECRET"])
        for name in env.keys { XCTAssertTrue(known.contains(name), "\(name) is not a configuration variable") }
        let url = try XCTUnwrap(env["LIVEGATE_DATABASE_URL"])
        XCTAssertTrue(url.hasPrefix("postgres://livegate:${POSTGRES_PASSWORD") && url.hasSuffix("@postgres:5432/livegate"), url)
        // A node id that survives re-creating the container (the host name does not).
        XCTAssertFalse(Self.interpolate(try XCTUnwrap(env["LIVEGATE_NODE_ID"]), [:]).isEmpty)
        // The environment it sets, as compose interpolates it from the example env file, passes
        // the gateway's own validation.
        let example = try text("docker/.env.example")
        var variables: [String: String] = [:]
        for line in example.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            variables[String(parts[0])] = String(parts[1])
        }
        XCTAssertNotNil(variables["POSTGRES_PASSWORD"])
        for name in variables.keys where name.hasPrefix("LIVEGATE_") { XCTAssertTrue(known.contains(name), name) }
        let interpolated = env.mapValues { Self.interpolate($0, variables) }
        XCTAssertEqual(interpolated["LIVEGATE_DATABASE_URL"], "postgres://livegate:change-me@postgres:5432/livegate")
        let config = LiveGateConfiguration(file: nil, environment: interpolated)
        XCTAssertTrue(config.problems.isEmpty, "\(config.problems)")
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
        let depends = livegate["depends_on"] as? [String: Any]
        XCTAssertEqual((depends?["postgres"] as? [String: Any])?["condition"] as? String, "service_healthy")
        let health = try XCTUnwrap(livegate["healthcheck"] as? [String: Any])
        XCTAssertEqual(health["test"] as? [String], ["CMD", "/usr/local/bin/livegate", "healthcheck"])
        XCTAssertEqual(livegate["volumes"] as? [String], ["livegate-data:/var/lib/livegate/data"])
        XCTAssertTrue(try text(".gitignore").contains("docker/.env"), "the filled-in env file stays out of git")
    }

    /// RTMPS in compose: the certificate mounted read-only where the image prepares a folder
    /// for it, the variables valid, the port published.
    func testRTMPSComposeOverride() throws {
        let compose = try XCTUnwrap(try Yams.load(yaml: try text("docker/compose.rtmps.yaml")) as? [String: Any])
        let livegate = try XCTUnwrap((compose["services"] as? [String: Any])?["livegate"] as? [String: Any])
        XCTAssertEqual(livegate["ports"] as? [String], ["1936:1936"])
        let env = try XCTUnwrap(livegate["environment"] as? [String: String])
        XCTAssertEqual(Set(env.keys), ["LIVEGATE_RTMP_TLS_CERTIFICATE", "LIVEGATE_RTMP_TLS_KEY"])
        XCTAssertTrue(env.values.allSatisfy { $0.hasPrefix("/etc/livegate/tls/") })
        XCTAssertEqual(livegate["volumes"] as? [String], ["./tls:/etc/livegate/tls:ro"])
        XCTAssertTrue(try text("docker/runtime-setup.sh").contains("/etc/livegate/tls"))
        XCTAssertTrue(try text("README.md").contains("compose.rtmps.yaml"), "the README says how to turn RTMPS on")
    }

    /// Several nodes (issue #14 item 8): two nodes with distinct stable ids on one PostgreSQL,
    /// HAProxy in front with `send-proxy-v2` from the one address the nodes trust; the nodes'
    /// environment passes the gateway's own validation and HAProxy's own check accepts its file.
    func testClusterComposeTwoNodesBehindHAProxy() async throws {
        let compose = try XCTUnwrap(try Yams.load(yaml: try text("docker/compose.cluster.yaml")) as? [String: Any])
        let services = try XCTUnwrap(compose["services"] as? [String: Any])
        XCTAssertEqual(Set(services.keys), ["postgres", "livegate-a", "livegate-b", "haproxy"])
        let haproxy = try XCTUnwrap(services["haproxy"] as? [String: Any])
        XCTAssertEqual(Set(haproxy["ports"] as? [String] ?? []), ["1935:1935", "8080:8080"])
        let proxyAddress = try XCTUnwrap(((haproxy["networks"] as? [String: Any])?["cluster"] as? [String: Any])?["ipv4_address"] as? String)
        let known = Set(LiveGateConfiguration.keys.map(\.environmentName)).union(["LIVE_TOKEN_ID", "LIVE_TOKEN_SECRET"])
        var ids: [String] = []
        for name in ["livegate-a", "livegate-b"] {
            let node = try XCTUnwrap(services[name] as? [String: Any], name)
            XCTAssertNil(node["ports"], "\(name): reached through HAProxy only")
            let env = try XCTUnwrap(node["environment"] as? [String: Any], name).compactMapValues { $0 as? String }
            for key in env.keys { XCTAssertTrue(known.contains(key), "\(name): \(key) is not a configuration variable") }
            XCTAssertEqual(env["LIVEGATE_RTMP_PROXY_PROTOCOL"], "v2")
            XCTAssertEqual(env["LIVEGATE_RTMP_TRUSTED_PROXIES"], proxyAddress + "/32", "trusts HAProxy and nobody else")
            XCTAssertEqual(env["LIVEGATE_HTTP_TRUSTED_PROXIES"], proxyAddress + "/32", "reads X-Forwarded-For from HAProxy and nobody else")
            XCTAssertEqual(env["LIVEGATE_CLUSTER_ADVERTISE_URL"], "http://\(name):8080",
                           "\(name): the other node fetches its HLS files and recordings by its service name (the container's host name is random)")
            ids.append(try XCTUnwrap(env["LIVEGATE_NODE_ID"]))
            let config = LiveGateConfiguration(file: nil, environment: env.mapValues { Self.interpolate($0, ["POSTGRES_PASSWORD": "change-me"]) })
            XCTAssertTrue(config.problems.isEmpty, "\(name): \(config.problems)")
            XCTAssertTrue((node["volumes"] as? [String] ?? []).first?.hasPrefix("\(name)-data:") == true, "\(name): its own data directory")
        }
        XCTAssertEqual(Set(ids).count, 2, "distinct stable node ids: \(ids)")
        let cfg = try text("docker/haproxy.cluster.cfg")
        XCTAssertEqual(cfg.components(separatedBy: "send-proxy-v2").count - 1, 2, "every RTMP server gets the PROXY header")
        XCTAssertTrue(cfg.contains("option forwardfor"), "the API frontend names the client in X-Forwarded-For")
        let checked = try await ProcessRunner.run(try ProcessRunner.which("haproxy"), ["-c", "-f", root.appendingPathComponent("docker/haproxy.cluster.cfg").path],
                                                  timeout: 20)
        XCTAssertEqual(checked.exitCode, 0, checked.stdout + checked.stderr)
        XCTAssertTrue(try text("README.md").contains("compose.cluster.yaml"), "the README's several-nodes section names it")
    }

    func testDockerfileBuildsWithTheTestedToolchainAndVersions() async throws {
        let dockerfile = try text("docker/Dockerfile")
        let lines = dockerfile.split(separator: "\n").map(String.init)
        let froms = lines.filter { $0.hasPrefix("FROM ") }
        XCTAssertEqual(froms.count, 2, "multi-stage")
        // The build image's Swift is the toolchain this suite runs on …
        let image = try XCTUnwrap(froms.first?.split(separator: " ").dropFirst().first.map(String.init))
        let imageVersion = try XCTUnwrap(image.split(separator: ":").last?.split(separator: "-").first.map(String.init))
        let swift = try await ProcessRunner.run("swift", ["--version"], timeout: 30)
        let local = try XCTUnwrap(swift.stdout.range(of: #"Swift version (\d+\.\d+(\.\d+)?)"#, options: .regularExpression)
            .map { String(swift.stdout[$0].dropFirst("Swift version ".count)) })
        XCTAssertEqual(imageVersion, local, "the Docker build uses swift:\(imageVersion), the suite ran on \(local)")
        // … and new enough for every dependency manifest it resolves.
        let checkouts = root.appendingPathComponent(".build/checkouts")
        var newest = (0, 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: checkouts.path) {
            guard let manifest = try? String(contentsOf: checkouts.appendingPathComponent("\(name)/Package.swift"), encoding: .utf8),
                  let range = manifest.range(of: #"swift-tools-version:\s*\d+\.\d+"#, options: .regularExpression) else { continue }
            let numbers = manifest[range].split(separator: ":").last!.trimmingCharacters(in: .whitespaces).split(separator: ".").compactMap { Int($0) }
            if (numbers[0], numbers[1]) > newest { newest = (numbers[0], numbers[1]) }
        }
        let imageParts = imageVersion.split(separator: ".").compactMap { Int($0) }
        XCTAssertGreaterThan(newest.0, 0, "found the resolved manifests")
        XCTAssertTrue((imageParts[0], imageParts[1]) >= newest, "swift:\(imageVersion) < tools-version \(newest)")
        // Pinned versions, forced.
        XCTAssertTrue(dockerfile.contains("RUN docker/pin-dependencies.sh && swift package resolve --force-resolved-versions"))
        XCTAssertTrue(dockerfile.contains("swift build -c release --product livegate --static-swift-stdlib --force-resolved-versions"))
        XCTAssertTrue(froms.last?.hasPrefix("FROM debian:bookworm-slim") == true)
        // The runtime user and its folders exist before VOLUME; it runs as that user.
        let setup = try XCTUnwrap(lines.firstIndex { $0.contains("RUN /usr/local/lib/livegate/runtime-setup.sh") })
        let volume = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("VOLUME ") })
        XCTAssertLessThan(setup, volume)
        XCTAssertTrue(lines[volume].contains("/var/lib/livegate/data"))
        XCTAssertTrue(lines.contains("USER livegate"))
        // The health check follows the configuration instead of a hard-coded URL.
        XCTAssertTrue(dockerfile.contains(#"CMD ["/usr/local/bin/livegate", "healthcheck"]"#))
        XCTAssertFalse(dockerfile.contains("127.0.0.1:8080"))
        for port in ["1935", "1936", "8080"] { XCTAssertTrue(lines.contains { $0.hasPrefix("EXPOSE") && $0.contains(port) }, port) }
        // The runtime stage installs the libav libraries the binary actually links.
        let ldd = try await ProcessRunner.run("/usr/bin/ldd", [gatewayBinary], timeout: 30)
        let sonames = ldd.stdout.split(separator: "\n").compactMap { line -> String? in
            let name = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            return name.hasPrefix("libav") ? name : nil
        }
        XCTAssertEqual(Set(sonames.map { $0.split(separator: ".").first ?? "" }), ["libavformat", "libavcodec", "libavutil"], ldd.stdout)
        for soname in sonames {
            let parts = soname.split(separator: ".")
            XCTAssertTrue(dockerfile.contains("\(parts[0])\(parts.last ?? "")"), "the runtime image must install \(parts[0])\(parts.last ?? "")")
        }
        XCTAssertTrue(dockerfile.contains("libavformat-dev"), "the build stage needs the headers")
        // The store's SQLite is the system's libsqlite3 (CSQLite3): headers to build, the library to run.
        let sqlite = ldd.stdout.split(separator: "\n").compactMap { line -> String? in
            let name = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            return name.hasPrefix("libsqlite3") ? name : nil
        }
        XCTAssertEqual(sqlite, ["libsqlite3.so.0"], ldd.stdout)
        XCTAssertTrue(lines.contains { $0.contains("libsqlite3-0") && !$0.contains("libsqlite3-dev") }, "the runtime image must install libsqlite3-0")
        XCTAssertTrue(dockerfile.contains("libsqlite3-dev"), "the build stage needs SQLite's headers")
        // Every file the build copies is in the context; what it must not send is ignored.
        let ignore = Set(try text(".dockerignore").split(separator: "\n").map(String.init))
        for entry in [".build", "Package.resolved", "data", ".git", "docker/.env"] { XCTAssertTrue(ignore.contains(entry), entry) }
        for line in lines where line.hasPrefix("COPY ") && !line.contains("--from") {
            for source in line.split(separator: " ").dropFirst().dropLast() {
                XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(String(source)).path), "COPY \(source)")
                XCTAssertFalse(ignore.contains(String(source)), "COPY \(source) is excluded by .dockerignore")
            }
        }
        let config = LiveGateConfiguration(file: root.appendingPathComponent("config/livegate.yaml").path, environment: [:])
        XCTAssertTrue(config.problems.isEmpty)
    }

    /// docker/dependency-versions.txt lists exactly what `swift build` resolved for this suite,
    /// and docker/pin-dependencies.sh turns it back into that Package.resolved (same commits,
    /// through git ls-remote — here against the local package copies).
    func testPinnedDependencyVersionsAreWhatTheSuiteResolved() async throws {
        let resolved = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("Package.resolved"))) as? [String: Any])
        let pins = try XCTUnwrap(resolved["pins"] as? [[String: Any]])
        func triple(_ pin: [String: Any]) -> String {
            "\(pin["identity"] as? String ?? "") \(pin["location"] as? String ?? "") \((pin["state"] as? [String: Any])?["version"] as? String ?? "")"
        }
        let recorded = try text("docker/dependency-versions.txt").split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        XCTAssertEqual(Set(recorded), Set(pins.map(triple)), "run docker/pin-dependencies.sh --record after changing dependencies")
        XCTAssertEqual(recorded.count, pins.count)

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pinned-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: output) }
        var env = ProcessInfo.processInfo.environment
        env["PIN_OUTPUT"] = output.path
        let run = try await ProcessRunner.run(root.appendingPathComponent("docker/pin-dependencies.sh").path, [], timeout: 120, environment: env)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        let pinned = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any])
        func byIdentity(_ list: [[String: Any]]) -> [String: String] {
            Dictionary(uniqueKeysWithValues: list.map { pin in
                let state = pin["state"] as? [String: Any] ?? [:]
                return (pin["identity"] as? String ?? "", "\(pin["location"] ?? "") \(state["version"] ?? "") \(state["revision"] ?? "")")
            })
        }
        XCTAssertEqual(byIdentity(try XCTUnwrap(pinned["pins"] as? [[String: Any]])), byIdentity(pins))
    }
}
