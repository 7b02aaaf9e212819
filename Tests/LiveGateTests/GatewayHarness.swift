import Foundation
import TestSupport
import XCTest

/// Starting the real `livegate` binary for end-to-end tests.
extension XCTestCase {
    var gatewayBinary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for candidate in [".build/debug/livegate", ".build/x86_64-unknown-linux-gnu/debug/livegate", ".build/aarch64-unknown-linux-gnu/debug/livegate"] {
            let path = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/livegate").path
    }

    /// Starts `livegate serve` on loopback with its stderr in a file; waits for the HTTP listener.
    /// `privateDataAt`: the gateway runs in a mount namespace of its own where `dir` is mounted
    /// at that path — every node of a cluster sees its own data directory at the same path, as
    /// separate containers or machines would, and none can read another's files by their path.
    func startGateway(dir: URL, port: Int, extraEnv: [String: String] = [:], log: String, privateDataAt: String? = nil) async throws -> (Process, URL) {
        let gateway = Process()
        let serve = ["serve", "--rtmp-port", "\(port)", "--http-port", "\(port + 1)"]
        var dataDir = dir.path
        if let mountPoint = privateDataAt {
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            gateway.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            // As root a mount namespace is enough; otherwise a user namespace maps us to root in it.
            gateway.arguments = (getuid() == 0 ? ["-m"] : ["-m", "-r"]) + ["--propagation", "private", "/bin/sh", "-c",
                                 #"mount --bind "$1" "$2" && shift 2 && exec "$@""#, "livegate-node", dir.path, mountPoint, gatewayBinary] + serve
            dataDir = mountPoint
        } else {
            gateway.executableURL = URL(fileURLWithPath: gatewayBinary)
            gateway.arguments = serve
        }
        gateway.environment = ["LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_DATA_DIR": dataDir,
                               "PATH": "/usr/bin:/bin"].merging(extraEnv) { $1 }
        let logFile = dir.appendingPathComponent(log)
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        gateway.standardError = try FileHandle(forWritingTo: logFile)
        try gateway.run()
        // Up to 30 s: a CI machine may be busy. A gateway that exits or never comes up fails
        // the test here, with its log, instead of as a puzzling nil further on.
        var started = false
        for _ in 0..<300 where gateway.isRunning {
            // The RTMP listener starts after the store is open and the API behind the HTTP
            // listener's start-up gate: from then on every route answers.
            if ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").contains("RTMP listener started") {
                started = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if !started {
            XCTFail("the gateway did not start on ports \(port)/\(port + 1): \((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")")
        }
        return (gateway, logFile)
    }

    /// The last lines of a gateway's log that are about RTMP connections and sessions (the HTTP
    /// access lines left out), for a failure message: what the gateway saw of a publish that did
    /// not go live — was it accepted, rejected, never connected at all.
    func gatewayLog(_ dir: URL, _ name: String = "before.log", last: Int = 40) -> String {
        let text = (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)) ?? "(no log \(name))"
        let lines = text.split(separator: "\n").filter { !$0.contains("http request") && !$0.contains("request served") }
        return "\n--- gateway log (\(name), last \(min(last, lines.count)) of \(lines.count) lines) ---\n" + lines.suffix(last).joined(separator: "\n")
    }

    /// A base port with `count` consecutive ports free on 127.0.0.1, chosen below Linux's
    /// ephemeral range (32768+), where outgoing connections could be holding one.
    func freePorts(_ count: Int = 3) -> Int {
        for _ in 0..<200 {
            let base = Int.random(in: 16000...(32700 - count))
            if (0..<count).allSatisfy({ Self.canBind(base + $0) }) { return base }
        }
        return Int.random(in: 16000...(32700 - count))
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A started gateway with API credentials, a webhook to a fresh receiver (secret wired in),
    /// and one channel; returns what the live-session tests need.
    struct LiveSetup {
        var gateway: Process
        var receiver: WebhookReceiver
        var api: String
        var channelID: String
        var key: String
        var env: [String: String]
        var curl: @Sendable ([String]) async throws -> [String: Any]
    }

    func liveSetup(dir: URL, port: Int, token: String, extraEnv: [String: String] = [:], record: Bool = false) async throws -> LiveSetup {
        let env = ["LIVE_TOKEN_ID": "tok_\(token)", "LIVE_TOKEN_SECRET": "\(token)-secret-0123456789", "LIVEGATE_NODE_ID": "node-\(token)"]
            .merging(extraEnv) { $1 }
        let receiver = try await WebhookReceiver.start(secret: "")
        let (gateway, _) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "before.log")
        let api = "http://127.0.0.1:\(port + 1)"
        let curl: @Sendable ([String]) async throws -> [String: Any] = { args in
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_\(token):\(token)-secret-0123456789"] + args, timeout: 10)
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        }
        let hook = try await curl(["-X", "POST", "\(api)/v1/webhooks", "--json", "{\"url\":\"\(receiver.url)\"}"])
        receiver.setSecret(try XCTUnwrap((hook["data"] as? [String: Any])?["secret"] as? String))
        let created = try await curl(["-X", "POST", "\(api)/v1/channels", "--json", #"{"name":"\#(token)","userId":"u1","record":\#(record)}"#])
        let channel = try XCTUnwrap(created["data"] as? [String: Any])
        return LiveSetup(gateway: gateway, receiver: receiver, api: api, channelID: try XCTUnwrap(channel["id"] as? String),
                         key: try XCTUnwrap(channel["streamId"] as? String), env: env, curl: curl)
    }


    /// Starts Debian's `haproxy` in the foreground with `config` (written to `dir/haproxy.cfg`),
    /// its output in `dir/haproxy.log`; waits `settle` for its listeners and checks it is running.
    func startHAProxy(_ config: String, in dir: URL, settle: Duration = .milliseconds(500)) async throws -> Process {
        let file = dir.appendingPathComponent("haproxy.cfg")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return try await startHAProxy(file: file, in: dir, settle: settle)
    }

    /// Runs a configuration file as it is (the shipped one), its addresses from `environment`.
    func startHAProxy(file: URL, environment: [String: String] = [:], in dir: URL, settle: Duration = .milliseconds(500)) async throws -> Process {
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: try ProcessRunner.which("haproxy"))
        proxy.arguments = ["-db", "-f", file.path]
        if !environment.isEmpty { proxy.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 } }
        let log = dir.appendingPathComponent("haproxy.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        proxy.standardOutput = try FileHandle(forWritingTo: log)
        proxy.standardError = proxy.standardOutput
        try proxy.run()
        try await Task.sleep(for: settle)
        XCTAssertTrue(proxy.isRunning, "haproxy started: " + ((try? String(contentsOf: log, encoding: .utf8)) ?? ""))
        return proxy
    }
}
