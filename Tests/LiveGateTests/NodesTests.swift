import Foundation
import TestSupport
import XCTest

/// Two real gateway nodes on one PostgreSQL (issue #14 item 1): each node's `/v1/system` lists
/// both with their health; a node killed with SIGKILL turns unhealthy on the other once its
/// last heartbeat is 15 s old — not before.
final class NodesTests: XCTestCase {
    func testEachNodeListsBothAndSeesAKilledOneLost() async throws {
        guard let base = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL is not set; `make test` starts PostgreSQL and sets it")
        }
        let scratch = try await PostgresScratchDatabase.create(baseURL: base)
        let dir = try MediaTools.temporaryDirectory("nodes")
        defer { try? FileManager.default.removeItem(at: dir) }
        var gateways: [(Process, Int)] = []
        defer { for (g, _) in gateways where g.isRunning { kill(g.processIdentifier, SIGKILL) } }
        for name in ["a", "b"] {
            let nodeDir = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: nodeDir, withIntermediateDirectories: true)
            let port = freePorts()
            let (g, _) = try await startGateway(dir: nodeDir, port: port, extraEnv: [
                "LIVEGATE_DATABASE_URL": scratch.url, "LIVE_TOKEN_ID": "tok_nodes", "LIVE_TOKEN_SECRET": "nodes-secret-0123456789",
            ], log: "gateway.log")
            gateways.append((g, port))
        }
        func events(_ port: Int, _ type: String) async throws -> [[String: Any]] {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_nodes:nodes-secret-0123456789", "http://127.0.0.1:\(port + 1)/v1/events?type=\(type)"],
                                                timeout: 10)
            let body = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
            return (body?["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        }
        func nodes(_ port: Int) async throws -> [[String: Any]] {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_nodes:nodes-secret-0123456789", "http://127.0.0.1:\(port + 1)/v1/system"], timeout: 10)
            let body = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
            return (body?["data"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
        }
        // Ids are the stable generated ones, kept in each data directory.
        let ids = try ["a", "b"].map { try String(contentsOf: dir.appendingPathComponent("\($0)/node-id"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertNotEqual(ids[0], ids[1])
        XCTAssertFalse(ids.contains(ProcessInfo.processInfo.hostName), "never the host name")
        var both = false
        for _ in 0..<50 where !both {
            let seenByA = try await nodes(gateways[0].1), seenByB = try await nodes(gateways[1].1)
            both = [seenByA, seenByB].allSatisfy { list in
                Set(list.compactMap { $0["id"] as? String }) == Set(ids) && list.allSatisfy { $0["healthy"] as? Bool == true }
            }
            if !both { try await Task.sleep(for: .milliseconds(200)) }
        }
        XCTAssertTrue(both, "each node lists both, healthy")
        let selfFlags = try await nodes(gateways[0].1).map { ($0["id"] as? String ?? "", $0["self"] as? Bool ?? false) }
        XCTAssertEqual(selfFlags.filter(\.1).map(\.0), [ids[0]])

        kill(gateways[1].0.processIdentifier, SIGKILL)
        let killed = Date()
        var lostAfter: Double?
        while lostAfter == nil, Date().timeIntervalSince(killed) < 25 {
            let b = try await nodes(gateways[0].1).first { $0["id"] as? String == ids[1] }
            if b?["healthy"] as? Bool == false { lostAfter = Date().timeIntervalSince(killed) }
            try await Task.sleep(for: .milliseconds(250))
        }
        // Seen unhealthy (the loop's 25 s bound the wait): `healthy` follows the lease life,
        // cluster.leaseTtlSec = 5 s; node.lost (15 s) is checked on a manual clock in
        // ChannelStoreConformanceTests, not by timing processes.
        let seconds = try XCTUnwrap(lostAfter, "node b was never seen lost")
        XCTAssertGreaterThanOrEqual(seconds, 2.5, "not before its heartbeat was 5 s old (the last one at most 2 s before the kill)")

        // The fleet's events: each node joined; b was lost — once, though a sweeps every 2 s.
        var lostEvents: [[String: Any]] = []
        for _ in 0..<20 where lostEvents.isEmpty {
            lostEvents = try await events(gateways[0].1, "node.lost")
            if lostEvents.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
        }
        try await Task.sleep(for: .seconds(3)) // more sweeps: still one
        lostEvents = try await events(gateways[0].1, "node.lost")
        XCTAssertEqual(lostEvents.compactMap { (($0["data"] as? [String: Any])?["node"] as? [String: Any])?["id"] as? String }, [ids[1]])
        let joined = try await events(gateways[0].1, "node.joined")
        XCTAssertEqual(Set(joined.compactMap { (($0["data"] as? [String: Any])?["node"] as? [String: Any])?["id"] as? String }), Set(ids))
        // Both bodies against the published schemas (jsonschema, PyPI).
        let document = try await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(gateways[0].1 + 1)/v1/openapi.json"], timeout: 10).stdout
        let docFile = dir.appendingPathComponent("openapi.json"), bodiesFile = dir.appendingPathComponent("events.json")
        try Data(document.utf8).write(to: docFile)
        try JSONSerialization.data(withJSONObject: joined + lostEvents).write(to: bodiesFile)
        let python = try await StandardWebhooksVerifier.python()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let check = try await ProcessRunner.run(python, [root.appendingPathComponent("scripts/check-event-schemas.py").path, docFile.path, bodiesFile.path],
                                                timeout: 60)
        XCTAssertEqual(check.exitCode, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains(#""types": ["node.joined", "node.lost"]"#), check.stdout)
        kill(gateways[0].0.processIdentifier, SIGTERM)
        await scratch.drop()
    }

    /// SQLite is single-node (issue #14 item 7): a second node started on the same database file
    /// refuses to start (exit 78, saying why) while the first is alive; the first goes on.
    func testASecondNodeOnTheSameSQLiteFileRefusesToStart() async throws {
        let dir = try MediaTools.temporaryDirectory("sqlite-single")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = "sqlite://" + dir.appendingPathComponent("shared.sqlite").path
        let env = ["LIVEGATE_DATABASE_URL": database, "LIVE_TOKEN_ID": "tok_single", "LIVE_TOKEN_SECRET": "single-secret-0123456789"]
        let aDir = dir.appendingPathComponent("a"), bDir = dir.appendingPathComponent("b")
        for d in [aDir, bDir] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let port = freePorts()
        let (first, firstLog) = try await startGateway(dir: aDir, port: port, extraEnv: env.merging(["LIVEGATE_NODE_ID": "solo-a"]) { $1 }, log: "a.log")
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        XCTAssertTrue(((try? String(contentsOf: firstLog, encoding: .utf8)) ?? "").contains("this node runs alone"))
        try await Task.sleep(for: .seconds(1)) // its first heartbeat is in the file
        let second = Process()
        second.executableURL = URL(fileURLWithPath: gatewayBinary)
        let otherPort = freePorts()
        second.arguments = ["serve", "--rtmp-port", "\(otherPort)", "--http-port", "\(otherPort + 1)"]
        second.environment = ["LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_DATA_DIR": bDir.path, "PATH": "/usr/bin:/bin",
                              "LIVEGATE_NODE_ID": "solo-b"].merging(env) { $1 }
        let errors = Pipe()
        second.standardError = errors
        second.standardOutput = FileHandle.nullDevice
        try second.run()
        let exited = await eventually(20) { !second.isRunning }
        if !exited { kill(second.processIdentifier, SIGKILL) }
        XCTAssertTrue(exited, "the second node does not run")
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(second.terminationStatus, 78, text)
        XCTAssertTrue(text.contains("SQLite is single-node: node solo-a"), text)
        XCTAssertTrue(text.contains("PostgreSQL"), text)
        XCTAssertTrue(first.isRunning, "the first node goes on")
        // Stopped cleanly, it leaves the nodes list: the other node may start at once.
        first.terminate()
        first.waitUntilExit()
        let (replacement, _) = try await startGateway(dir: bDir, port: otherPort, extraEnv: env.merging(["LIVEGATE_NODE_ID": "solo-b"]) { $1 }, log: "b.log")
        defer { if replacement.isRunning { kill(replacement.processIdentifier, SIGKILL) } }
        XCTAssertTrue(replacement.isRunning)
    }
}
