import Foundation
import TestSupport
import XCTest

/// Several real `livegate serve` processes on one scratch PostgreSQL database (issue #14), with
/// one webhook receiver on loopback that both nodes' dispatchers deliver to.
struct ClusterHarness {
    struct Node {
        var name: String
        var process: Process
        var port: Int
        var dir: URL
        var log: URL
        var api: String { "http://127.0.0.1:\(port + 1)" }
        var rtmp: String { "rtmp://127.0.0.1:\(port)/live" }
    }

    var scratch: PostgresScratchDatabase
    var dir: URL
    var nodes: [Node]
    var receiver: WebhookReceiver
    var env: [String: String]
    static let token = "tok_cluster", secret = "cluster-secret-0123456789"
    /// Where every node of a `privateData` cluster sees its own data directory.
    static let privateDataPath = "/tmp/livegate-node-data"

    func curl(_ node: Int, _ args: [String]) async throws -> [String: Any] {
        let r = try await ProcessRunner.run("curl", ["-s", "-u", "\(Self.token):\(Self.secret)"] + args.map {
            $0.hasPrefix("/") ? nodes[node].api + $0 : $0
        }, timeout: 10)
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// A channel created through node 0.
    func createChannel(_ body: String) async throws -> (id: String, key: String) {
        let created = try await curl(0, ["-X", "POST", "/v1/channels", "--json", body])
        let channel = try XCTUnwrap(created["data"] as? [String: Any], "\(created)")
        return (try XCTUnwrap(channel["id"] as? String), try XCTUnwrap(channel["streamId"] as? String))
    }

    func sessions(_ channelId: String, via node: Int = 0) async throws -> [[String: Any]] {
        (try await curl(node, ["/v1/channels/\(channelId)/sessions"])["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
    }

    func logText(_ node: Int) -> String { (try? String(contentsOf: nodes[node].log, encoding: .utf8)) ?? "" }

    /// `keepFilesOf`: a test that has failed keeps the cluster's folder (every node's log of
    /// every start, its data) for a post-mortem; its path is printed.
    func stop(keepFilesOf test: XCTestCase? = nil) async {
        for node in nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) }
        await receiver.stop()
        await scratch.drop()
        if let test, (test.testRun?.failureCount ?? 0) + (test.testRun?.unexpectedExceptionCount ?? 0) > 0 {
            print("cluster files kept for the failed test: \(dir.path)")
            return
        }
        try? FileManager.default.removeItem(at: dir)
    }
}

extension XCTestCase {
    /// Starts `count` nodes (ids node-a, node-b …) on one fresh database and a webhook to a receiver.
    /// `databasePort`: the nodes reach PostgreSQL through this port (a relay the test can cut).
    /// `privateData`: each node in its own mount namespace with its data directory at one shared
    /// path (`ClusterHarness.privateDataPath`), so no node can read another's files.
    func startCluster(_ name: String, count: Int = 2, extraEnv: [String: String] = [:], databasePort: Int? = nil,
                      privateData: Bool = false) async throws -> ClusterHarness {
        guard let base = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL and sets it")
        }
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory(name)
        var url = try XCTUnwrap(URLComponents(string: scratch.url))
        if let databasePort { url.port = databasePort }
        let env = ["LIVEGATE_DATABASE_URL": try XCTUnwrap(url.string), "LIVE_TOKEN_ID": ClusterHarness.token, "LIVE_TOKEN_SECRET": ClusterHarness.secret,
                   "LIVEGATE_RTMP_FAILED_PUBLISHES_PER_MINUTE": "0", "LIVEGATE_API_AUTH_FAILURES_PER_MINUTE": "0"].merging(extraEnv) { $1 }
        var nodes: [ClusterHarness.Node] = []
        for i in 0..<count {
            let name = "node-" + String(UnicodeScalar(UInt8(97 + i)))
            nodes.append(try await startClusterNode(name, dir: dir.appendingPathComponent(name), env: env,
                                                    privateDataAt: privateData ? ClusterHarness.privateDataPath : nil))
        }
        let receiver = try await WebhookReceiver.start(secret: "")
        var cluster = ClusterHarness(scratch: scratch, dir: dir, nodes: nodes, receiver: receiver, env: env)
        let hook = try await cluster.curl(0, ["-X", "POST", "/v1/webhooks", "--json", "{\"url\":\"\(receiver.url)\"}"])
        receiver.setSecret(try XCTUnwrap((hook["data"] as? [String: Any])?["secret"] as? String, "\(hook)"))
        cluster.nodes = nodes
        return cluster
    }

    func startClusterNode(_ name: String, dir: URL, env: [String: String], port: Int? = nil, privateDataAt: String? = nil) async throws -> ClusterHarness.Node {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = port ?? freePorts()
        let (process, log) = try await startGateway(dir: dir, port: port, extraEnv: env.merging(["LIVEGATE_NODE_ID": name]) { $1 },
                                                    log: "gateway-\(Int(Date().timeIntervalSince1970 * 1000)).log", privateDataAt: privateDataAt)
        return ClusterHarness.Node(name: name, process: process, port: port, dir: dir, log: log)
    }

    /// Debian's HAProxy running the shipped `docker/haproxy.cluster.cfg` unchanged in front of
    /// the cluster's two nodes, its addresses from the environment: RTMP on `front`, HTTP on
    /// `front + 1`, the stats page on `front + 2`.
    func startShippedBalancer(_ cluster: ClusterHarness, nodes: [ClusterHarness.Node]? = nil) async throws -> (proxy: Process, front: Int) {
        let nodes = nodes ?? cluster.nodes
        let front = freePorts(3)
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docker/haproxy.cluster.cfg")
        let proxy = try await startHAProxy(file: shipped, environment: [
            "LB_RTMP_BIND": "127.0.0.1:\(front)", "LB_HTTP_BIND": "127.0.0.1:\(front + 1)", "LB_STATS_BIND": "127.0.0.1:\(front + 2)",
            "NODE_A_HOST": "127.0.0.1", "NODE_B_HOST": "127.0.0.1",
            "NODE_A_RTMP_PORT": "\(nodes[0].port)", "NODE_A_HTTP_PORT": "\(nodes[0].port + 1)",
            "NODE_B_RTMP_PORT": "\(nodes[1].port)", "NODE_B_HTTP_PORT": "\(nodes[1].port + 1)",
        ], in: cluster.dir, settle: .milliseconds(2500))
        return (proxy, front)
    }

    /// ffmpeg publishing `clip` in a loop to `url` for at most `seconds` (then it unpublishes cleanly).
    func startPublisher(_ clip: URL, url: String, seconds: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ProcessRunner.which("ffmpeg"))
        p.arguments = ["-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip.path, "-c", "copy", "-t", "\(seconds)",
                       "-f", "flv", url]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.runWithSignalsUnblocked()
        return p
    }

    /// Waits until `condition` holds or `timeout` passes; true if it held.
    func eventually(_ timeout: Double, every: Duration = .milliseconds(100), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: every)
        }
        return try await condition()
    }
}
