import LiveGateModel
import ChannelStore
import Foundation
import LiveGate
import Logging
import TestSupport
import XCTest

/// Every configuration error an operator can make that `serve` would refuse is found by
/// `check-config` first, with exit 78 and `SOURCE: KEY: reason`; `serve` refuses the same before
/// anything listens, also with 78.
final class StartupChecksTests: XCTestCase {
    struct Case {
        var name: String
        var env: [String: String]
        var flags: [String] = []
        /// The line `check-config` must print (and `serve` log).
        var line: String
    }

    func testCheckConfigAndServeRefuseEachMistakeWithExit78() async throws {
        let dir = try MediaTools.temporaryDirectory("preflight")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        // A second pair, so a key can belong to another certificate.
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let (_, otherKey) = try await MediaTools.selfSignedCertificate(in: other)
        let notADirectory = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: notADirectory)
        let port = freePorts(3)
        let cases: [Case] = [
            Case(name: "mysql", env: ["LIVEGATE_DATABASE_URL": "mysql://u:p@db/x"],
                 line: "environment LIVEGATE_DATABASE_URL: database.url: must be empty (SQLite in dataDir), sqlite://PATH or postgres://USER:PASSWORD@HOST[:PORT]/DATABASE; got a 'mysql' URL"),
            Case(name: "http", env: ["LIVEGATE_DATABASE_URL": "http://db/x"], line: "database.url: must be empty (SQLite in dataDir)"),
            Case(name: "not a url", env: ["LIVEGATE_DATABASE_URL": "not a url"], line: "database.url: must be empty (SQLite in dataDir), sqlite://PATH or postgres://USER:PASSWORD@HOST[:PORT]/DATABASE; got something that is not a URL"),
            Case(name: "postgres://", env: ["LIVEGATE_DATABASE_URL": "postgres://"],
                 line: "environment LIVEGATE_DATABASE_URL: database.url: postgres:// URL has no host (postgres://USER:PASSWORD@HOST[:PORT]/DATABASE)"),
            Case(name: "missing certificate", env: ["LIVEGATE_RTMP_TLS_CERTIFICATE": dir.path + "/none.pem", "LIVEGATE_RTMP_TLS_KEY": key],
                 line: "environment LIVEGATE_RTMP_TLS_CERTIFICATE: rtmp.tlsCertificate: \(dir.path)/none.pem: no such file"),
            Case(name: "swapped", env: ["LIVEGATE_RTMP_TLS_CERTIFICATE": key, "LIVEGATE_RTMP_TLS_KEY": cert],
                 line: "environment LIVEGATE_RTMP_TLS_CERTIFICATE: rtmp.tlsCertificate: \(key): holds a private key, not a certificate (certificate and key swapped?)"),
            Case(name: "mismatched", env: ["LIVEGATE_HTTP_TLS_CERTIFICATE": cert, "LIVEGATE_HTTP_TLS_KEY": otherKey],
                 line: "environment LIVEGATE_HTTP_TLS_KEY: http.tlsKey: \(otherKey): this private key does not belong to the certificate in \(cert)"),
            Case(name: "RTMPS half", env: ["LIVEGATE_RTMP_TLS_CERTIFICATE": cert],
                 line: "environment LIVEGATE_RTMP_TLS_CERTIFICATE: rtmp.tlsKey: must be set with rtmp.tlsCertificate: TLS is half-configured (RTMPS would silently stay off)"),
            Case(name: "HTTPS half", env: ["LIVEGATE_HTTP_TLS_KEY": key],
                 line: "environment LIVEGATE_HTTP_TLS_KEY: http.tlsCertificate: must be set with http.tlsKey: TLS is half-configured (the API and its Basic credentials would be served in clear)"),
            Case(name: "one port", env: [:], flags: ["--rtmp-port", "\(port)", "--http-port", "\(port)"],
                 line: "flag: http.port: \(port) is also rtmp.port (the RTMP listener); each listener needs its own port"),
            Case(name: "RTMPS on the RTMP port", env: ["LIVEGATE_RTMP_TLS_CERTIFICATE": cert, "LIVEGATE_RTMP_TLS_KEY": key, "LIVEGATE_RTMP_TLS_PORT": "\(port)"],
                 line: "environment LIVEGATE_RTMP_TLS_PORT: rtmp.tlsPort: \(port) is also rtmp.port (the RTMP listener); each listener needs its own port"),
            Case(name: "public rtmp url", env: ["LIVEGATE_PUBLIC_RTMP_URL": "http://live.example.com/live"],
                 line: "environment LIVEGATE_PUBLIC_RTMP_URL: publicRtmpUrl: must be a rtmp:// or rtmps:// URL with a host (got 'http://live.example.com/live')"),
            Case(name: "public rtmp url without its app", env: ["LIVEGATE_PUBLIC_RTMP_URL": "rtmps://live.example.com:443/"],
                 line: "environment LIVEGATE_PUBLIC_RTMP_URL: publicRtmpUrl: must name the application (rtmp://HOST[:PORT]/live)"),
            Case(name: "bad host", env: ["LIVEGATE_RTMP_HOST": "999.1.1.1"], line: "environment LIVEGATE_RTMP_HOST: rtmp.host: '999.1.1.1' is not an IPv4 address"),
            Case(name: "dataDir under a file", env: ["LIVEGATE_DATA_DIR": notADirectory.path + "/data"],
                 line: "environment LIVEGATE_DATA_DIR: dataDir: \(notADirectory.path)/data cannot be created by this user (uid \(getuid())): Not a directory"),
            Case(name: "dataDir is a file", env: ["LIVEGATE_DATA_DIR": notADirectory.path],
                 line: "environment LIVEGATE_DATA_DIR: dataDir: \(notADirectory.path) exists and is not a directory"),
        ]
        for c in cases {
            var env = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.appendingPathComponent("data-\(c.name.count)").path,
                       "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
                       "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(port + 1)", "LIVEGATE_RTMP_TLS_PORT": "\(port + 2)"]
            env.merge(c.env) { $1 }
            let check = try await ProcessRunner.run(gatewayBinary, ["check-config"] + c.flags, timeout: 20, environment: env)
            XCTAssertEqual(check.exitCode, 78, "\(c.name): \(check.stdout)")
            XCTAssertTrue(check.stdout.contains(c.line), "\(c.name): expected\n  \(c.line)\ngot\n  \(check.stdout)")
            let serve = try await ProcessRunner.run(gatewayBinary, ["serve"] + c.flags, timeout: 20, environment: env)
            XCTAssertEqual(serve.exitCode, 78, "\(c.name): \(serve.stderr)")
            XCTAssertTrue(serve.stderr.contains(c.line), "\(c.name): serve logs the same line: \(serve.stderr)")
            XCTAssertFalse(serve.stderr.contains("listener started"), "\(c.name): nothing may start: \(serve.stderr)")
            XCTAssertFalse(serve.stderr.contains("NSURLErrorDomain") || serve.stderr.contains("NSCocoaErrorDomain"), serve.stderr)
        }
    }

    /// A port another process holds is named with its listener, and the configuration problem is
    /// found before start; a good configuration passes both.
    func testPortInUseAndAGoodConfiguration() async throws {
        let dir = try MediaTools.temporaryDirectory("preflight-port")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(2)
        let holder = try await TestServer.start()
        let env = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
                   "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(holder.port)"]
        let busy = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: env)
        XCTAssertEqual(busy.exitCode, 78)
        XCTAssertTrue(busy.stdout.contains("environment LIVEGATE_HTTP_PORT: http.port: the HTTP listener cannot bind 127.0.0.1:\(holder.port): Address already in use"),
                      busy.stdout)
        await holder.stop()
        var good = env
        good["LIVEGATE_HTTP_PORT"] = "\(port + 1)"
        let ok = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: good)
        XCTAssertEqual(ok.exitCode, 0, ok.stdout)
        XCTAssertEqual(ok.stdout, "configuration OK\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("hls").path), "check-config leaves no folder behind")
    }

    /// `check-config` connects to PostgreSQL as `serve` will: a role the server refuses is a
    /// problem (78, with the server's reason) where it used to say "configuration OK"; a server
    /// that does not answer is a warning (serve retries). And on a node running with this
    /// configuration it checks everything but binding that node's ports, saying so, instead of
    /// failing with "cannot bind".
    func testCheckConfigChecksTheDatabaseAndRecognisesItsRunningNode() async throws {
        let dir = try MediaTools.temporaryDirectory("preflight-db")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(2)
        let base = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
                    "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(port + 1)"]
        if let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"], var components = URLComponents(string: url) {
            components.user = "no_such_role"
            components.password = "wrong"
            var env = base
            env["LIVEGATE_DATABASE_URL"] = components.string!
            let refused = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: env)
            XCTAssertEqual(refused.exitCode, 78, refused.stdout)
            XCTAssertTrue(refused.stdout.contains("environment LIVEGATE_DATABASE_URL: database.url: PostgreSQL refused the connection:"), refused.stdout)
            XCTAssertTrue(refused.stdout.contains("no_such_role"), "the server's reason: \(refused.stdout)")
            XCTAssertFalse(refused.stdout.contains("wrong"), "never the password: \(refused.stdout)")
            env["LIVEGATE_DATABASE_URL"] = url
            let good = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: env)
            XCTAssertEqual(good.exitCode, 0, good.stdout)
            XCTAssertTrue(good.stdout.contains("note: database.url: PostgreSQL reachable, credentials accepted"), good.stdout)
        }
        var silent = base
        silent["LIVEGATE_DATABASE_URL"] = "postgres://livegate:x@127.0.0.1:\(port + 5)/livegate"
        let unreachable = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: silent)
        XCTAssertEqual(unreachable.exitCode, 0, "a server that does not answer now is not a configuration error: \(unreachable.stdout)")
        XCTAssertTrue(unreachable.stdout.contains("warning: environment LIVEGATE_DATABASE_URL: database.url: PostgreSQL does not answer now"), unreachable.stdout)

        let env = base.merging(["LIVE_TOKEN_ID": "tok_cc", "LIVE_TOKEN_SECRET": "cc-secret-0123456789"]) { $1 }
        let (gateway, _) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "serve.log")
        defer { kill(gateway.processIdentifier, SIGTERM) }
        let nodeId = try String(contentsOf: dir.appendingPathComponent("node-id"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let running = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: env)
        XCTAssertEqual(running.exitCode, 0, running.stdout)
        XCTAssertTrue(running.stdout.contains("note: node \(nodeId) is running with this configuration (http://127.0.0.1:\(port + 1)/healthz): every check was made but binding its ports"),
                      running.stdout)
        XCTAssertFalse(running.stdout.contains("cannot bind"), running.stdout)
        // Another configuration on the same ports is not that node: its ports are checked (and busy).
        let other = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20,
                                                environment: env.merging(["LIVEGATE_NODE_ID": "someone-else"]) { $1 })
        XCTAssertEqual(other.exitCode, 78, other.stdout)
        XCTAssertTrue(other.stdout.contains("cannot bind"), other.stdout)
    }

    /// A file value keeps the file's name as its source; a misspelt variable is a warning that
    /// names the key meant, and does not stop anything.
    func testSourcesAndMisspeltVariables() async throws {
        let dir = try MediaTools.temporaryDirectory("preflight-env")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("livegate.yaml")
        try "rtmp:\n  host: 300.1.1.1\n".write(to: file, atomically: true, encoding: .utf8)
        let port = freePorts(2)
        let env = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_HTTP_HOST": "127.0.0.1",
                   "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(port + 1)", "LIVEGATE_RTMP_PROT": "1936", "LIVEGATE_DATABSE_URL": "x"]
        let check = try await ProcessRunner.run(gatewayBinary, ["check-config", "--config", file.path], timeout: 20, environment: env)
        XCTAssertEqual(check.exitCode, 78)
        XCTAssertTrue(check.stdout.contains("\(file.path): rtmp.host: '300.1.1.1' is not an IPv4 address"), check.stdout)
        XCTAssertTrue(check.stdout.contains("warning: environment: LIVEGATE_RTMP_PROT: names no configuration key (ignored); did you mean LIVEGATE_RTMP_PORT (rtmp.port)?"),
                      check.stdout)
        XCTAssertTrue(check.stdout.contains("did you mean LIVEGATE_DATABASE_URL (database.url)?"), check.stdout)
        var fixed = env
        fixed["LIVEGATE_RTMP_HOST"] = "127.0.0.1"
        let warnedOnly = try await ProcessRunner.run(gatewayBinary, ["check-config"], timeout: 20, environment: fixed)
        XCTAssertEqual(warnedOnly.exitCode, 0, "warnings do not refuse: \(warnedOnly.stdout)")
        XCTAssertTrue(warnedOnly.stdout.hasSuffix("configuration OK\n"), warnedOnly.stdout)
    }

    /// The node id is generated once into the data folder, kept across restarts, shown by
    /// /v1/system, and never the host name; a configured one wins.
    func testStableNodeIdKeptInTheDataDirectory() async throws {
        let dir = try MediaTools.temporaryDirectory("nodeid")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(2)
        let env = ["LIVE_TOKEN_ID": "tok_n", "LIVE_TOKEN_SECRET": "n-secret-0123456789"]
        func systemNodeId() async throws -> String? {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_n:n-secret-0123456789", "http://127.0.0.1:\(port + 1)/v1/system"], timeout: 10)
            return ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any])?["nodeId"] as? String
        }
        var seen: [String] = []
        for run in 0..<2 {
            let (gateway, _) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "run\(run).log")
            let id = try await systemNodeId()
            gateway.terminate()
            gateway.waitUntilExit()
            seen.append(try XCTUnwrap(id))
        }
        let stored = try String(contentsOf: dir.appendingPathComponent("node-id"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(seen, [stored, stored], "the same id on both runs, the one in DATA_DIR/node-id")
        XCTAssertTrue(stored.hasPrefix("node_"), stored)
        XCTAssertNotEqual(stored, ProcessInfo.processInfo.hostName)
        let (configured, _) = try await startGateway(dir: dir, port: port, extraEnv: env.merging(["LIVEGATE_NODE_ID": "edge-7"]) { $1 }, log: "run2.log")
        let configuredId = try await systemNodeId()
        configured.terminate()
        configured.waitUntilExit()
        XCTAssertEqual(configuredId, "edge-7")
    }

    func testNodeIdentityResolution() throws {
        let dir = try MediaTools.temporaryDirectory("nodeid-unit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try NodeIdentity.resolve(configured: "", dataDirectory: dir.path + "/data", hostName: "box-1")
        XCTAssertEqual(first.previousIds, ["box-1"], "an upgraded node also closes what it left open under its host name")
        let again = try NodeIdentity.resolve(configured: "", dataDirectory: dir.path + "/data", hostName: "box-2")
        XCTAssertEqual(again, NodeIdentity(id: first.id, previousIds: []), "a new host name does not change the id")
        XCTAssertEqual(try NodeIdentity.resolve(configured: "n1", dataDirectory: dir.path + "/data", hostName: "box").id, "n1")
        try "bad id with spaces\n".write(toFile: dir.path + "/data/node-id", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NodeIdentity.resolve(configured: "", dataDirectory: dir.path + "/data"))
    }

    /// PostgreSQL not reachable at start: one log line per attempt, /healthz 200 and /readyz 503
    /// meanwhile; once it answers, the gateway starts. Never reachable: exit 1 with the cause
    /// after database.connectTimeoutSec. Reachable but refusing (no such database): exit 78 at once.
    func testStartsOncePostgreSQLIsReachableAndGivesUpAfterTheTimeout() async throws {
        let (base, targetPort) = try testPostgres()
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory("pg-wait")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(3)
        let proxyPort = port + 2
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        url.port = proxyPort
        let env = ["LIVEGATE_DATABASE_URL": try XCTUnwrap(url.string), "LIVEGATE_DATABASE_CONNECT_TIMEOUT_SEC": "60",
                   "LIVE_TOKEN_ID": "tok_pg", "LIVE_TOKEN_SECRET": "pg-secret-0123456789"]
        let log = dir.appendingPathComponent("gateway.log")
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: gatewayBinary)
        gateway.arguments = ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"]
        gateway.environment = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1",
                               "LIVEGATE_HTTP_HOST": "127.0.0.1"].merging(env) { $1 }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        gateway.standardError = try FileHandle(forWritingTo: log)
        try gateway.run()
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        guard try await waitForLog(log, "attempt=2", process: gateway) else { return }
        func status(_ path: String) async throws -> String {
            try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port + 1)\(path)"], timeout: 10).stdout
        }
        let waitingReady = try await status("/readyz"), waitingHealth = try await status("/healthz"), waitingAPI = try await status("/v1/channels")
        XCTAssertEqual(waitingReady, "503")
        XCTAssertEqual(waitingHealth, "200", "alive while waiting: an orchestrator must not kill it")
        XCTAssertEqual(waitingAPI, "503")
        let attempts = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("PostgreSQL not reachable; retrying") }
        XCTAssertGreaterThanOrEqual(attempts.count, 2)
        XCTAssertTrue(attempts.allSatisfy { $0.contains("Connection refused") }, "\(attempts)")

        // PostgreSQL "comes up": a TCP relay to the real server on the port the gateway tries.
        let relay = try TCPRelay.start(listenPort: proxyPort, targetPort: targetPort)
        defer { relay.terminate() }
        guard try await waitForLog(log, "RTMP listener started", process: gateway) else { return }
        let readyAfter = try await status("/readyz")
        XCTAssertEqual(readyAfter, "200")
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        relay.terminate()

        // Never reachable: gives up after the timeout, exit 1 with the cause.
        let gaveUp = try await ProcessRunner.run(gatewayBinary, ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"], timeout: 30,
                                                 environment: ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1",
                                                               "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_DATABASE_CONNECT_TIMEOUT_SEC": "2",
                                                               "LIVEGATE_DATABASE_URL": "postgres://livegate@127.0.0.1:\(port + 2)/x"])
        XCTAssertEqual(gaveUp.exitCode, 1, gaveUp.stderr)
        XCTAssertTrue(gaveUp.stderr.contains("LiveGate cannot start: PostgreSQL not reachable after"), gaveUp.stderr)
        XCTAssertTrue(gaveUp.stderr.contains("(database.connectTimeoutSec): "), gaveUp.stderr)

        // Reachable but refusing: no retrying, exit 78.
        var missing = try XCTUnwrap(URLComponents(string: base))
        missing.path = "/no_such_database_here"
        let refused = try await ProcessRunner.run(gatewayBinary, ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"], timeout: 30,
                                                  environment: ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1",
                                                                "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_DATABASE_URL": try XCTUnwrap(missing.string)])
        XCTAssertEqual(refused.exitCode, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("SQLSTATE 3D000"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("retrying"), refused.stderr)
        await scratch.drop()
    }
}

/// A TCP relay (python3, one process) from a loopback port to another: a server that "comes up".
struct TCPRelay {
    let process: Process

    static func start(listenPort: Int, targetPort: Int) throws -> TCPRelay {
        let script = """
        import asyncio
        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data); await w.drain()
            finally:
                w.close()
        async def handle(r, w):
            tr, tw = await asyncio.open_connection('127.0.0.1', \(targetPort))
            await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
        async def main():
            server = await asyncio.start_server(handle, '127.0.0.1', \(listenPort))
            async with server:
                await server.serve_forever()
        asyncio.run(main())
        """
        let process = Process()
        // The interpreter itself, not a version-manager shim that would fork it (and leave it
        // running when the shim is killed).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script]
        }
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening before it is handed out (the interpreter takes a moment to start).
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(listenPort).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if connected { break }
            usleep(30_000)
        }
        return TCPRelay(process: process)
    }

    /// SIGKILL: the relay holds nothing worth a clean stop (SIGTERM was seen to be ignored when
    /// the test process had it blocked, and then waitUntilExit spun for ever).
    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Issue #19 item 6 on the real binary: a store written before user ids were normalised, holding
/// two ids that are one user under the rule, stops the start with both named (exit 78); one
/// whose ids only need rewriting starts and answers with the normalised ids.
final class UserIdStartupTests: XCTestCase {
    /// A store as an older version left it: channels under the given user ids, written as they came.
    func oldStore(_ users: [String]) async throws -> URL {
        let dir = try MediaTools.temporaryDirectory("userids")
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        for (i, user) in users.enumerated() {
            _ = try await store.createChannel(id: "ch_\(i)", streamKey: "k_\(i)", fields: ChannelFields(userId: user, name: "c\(i)"), now: Date())
        }
        await store.close()
        return dir
    }

    func testCollidingStoredUserIdsStopTheStartNamingThemAndOthersAreRewritten() async throws {
        let port = freePorts()
        func env(_ dir: URL) -> [String: String] {
            ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": dir.path, "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
             "LIVE_TOKEN_ID": "tok_ids", "LIVE_TOKEN_SECRET": "ids-secret-0123456789"]
        }
        let colliding = try await oldStore(["dave", "dave ", "erin"])
        defer { try? FileManager.default.removeItem(at: colliding) }
        let refused = try await ProcessRunner.run(gatewayBinary, ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"], timeout: 30,
                                                  environment: env(colliding))
        XCTAssertEqual(refused.exitCode, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(#"["dave", "dave "]"#), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("erin"), "only the colliding ids are named")

        // No collision: the start rewrites them, and the API shows them normalised.
        let rewritable = try await oldStore(["ngu\u{031B}o\u{031B}\u{0300}i", " erin ", "dave"])
        defer { try? FileManager.default.removeItem(at: rewritable) }
        let (gateway, _) = try await startGateway(dir: rewritable, port: port, extraEnv: env(rewritable), log: "after.log")
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_ids:ids-secret-0123456789", "http://127.0.0.1:\(port + 1)/v1/channels?limit=100"], timeout: 10)
        let items = (((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any])?["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        let users = Set(items.compactMap { ($0["userId"] as? String).map { Array($0.utf8) } })
        XCTAssertEqual(users, [Array("người".utf8), Array("erin".utf8), Array("dave".utf8)], r.stdout)
        gateway.terminate()
        gateway.waitUntilExit()
        let log = (try? String(contentsOf: rewritable.appendingPathComponent("after.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("stored user ids normalised"), log)
    }
}
