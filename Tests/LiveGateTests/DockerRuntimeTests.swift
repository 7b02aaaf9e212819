import Foundation
import TestSupport
import XCTest

/// The runtime stage of docker/Dockerfile, reproduced outside Docker (no engine runs here):
/// its setup script creates the user and folders under a scratch root, its COPY lines are
/// carried out, and the binary is started the way ENTRYPOINT + CMD start it — as that user,
/// with the ENV the Dockerfile sets, from its WORKDIR — then its HEALTHCHECK command runs and a
/// publisher streams to it. Everything here is read from the Dockerfile, so a change there that
/// breaks the image breaks this test.
final class DockerRuntimeTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct RuntimeStage {
        var env: [(String, String)] = []
        var user = ""
        var workdir = ""
        var entrypoint: [String] = []
        var cmd: [String] = []
        var healthcheck: [String] = []
        var copies: [(from: String?, source: String, destination: String)] = []
        var runs: [String] = []
    }

    /// Parses the last stage (instructions joined across `\` continuations).
    static func runtimeStage(of dockerfile: String) throws -> RuntimeStage {
        var joined: [String] = []
        var current = ""
        for raw in dockerfile.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if current.isEmpty && (line.hasPrefix("#") || line.isEmpty) { continue }
            if line.hasSuffix("\\") { current += line.dropLast() + " "; continue }
            joined.append(current + line)
            current = ""
        }
        let stageStart = try XCTUnwrap(joined.lastIndex { $0.hasPrefix("FROM ") })
        var stage = RuntimeStage()
        func jsonArray(_ text: Substring) throws -> [String] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.trimmingCharacters(in: .whitespaces).utf8)) as? [String])
        }
        for instruction in joined[(stageStart + 1)...] {
            let keyword = instruction.prefix { $0 != " " }
            let rest = instruction.dropFirst(keyword.count + 1)
            switch keyword {
            case "ENV":
                for pair in rest.split(separator: " ") where pair.contains("=") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    stage.env.append((String(parts[0]), String(parts[1])))
                }
            case "USER": stage.user = String(rest)
            case "WORKDIR": stage.workdir = String(rest)
            case "ENTRYPOINT": stage.entrypoint = try jsonArray(rest)
            case "CMD": stage.cmd = try jsonArray(rest)
            case "HEALTHCHECK":
                let command = try XCTUnwrap(rest.range(of: "CMD "))
                stage.healthcheck = try jsonArray(rest[command.upperBound...])
            case "COPY":
                var words = rest.split(separator: " ").map(String.init)
                var from: String?
                if let first = words.first, first.hasPrefix("--from=") { from = String(first.dropFirst(7)); words.removeFirst() }
                stage.copies.append((from, words[0], words[1]))
            case "RUN": stage.runs.append(String(rest))
            default: break
            }
        }
        return stage
    }

    func testRuntimeImageStepsReproducedOutsideDocker() async throws {
        try XCTSkipUnless(getuid() == 0, "creates the image's user: needs root (CI runs as root)")
        let stage = try Self.runtimeStage(of: try String(contentsOf: root.appendingPathComponent("docker/Dockerfile"), encoding: .utf8))
        let scratch = try MediaTools.temporaryDirectory("image")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path)

        // COPY, then the RUN steps that use what was copied (the setup script), twice: idempotent.
        for copy in stage.copies {
            let source = copy.from == "build" ? gatewayBinary : root.appendingPathComponent(copy.source).path
            let destination = scratch.path + copy.destination
            try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: source, toPath: destination)
            try FileManager.default.setAttributes([.posixPermissions: copy.from == "build" || source.hasSuffix(".sh") ? 0o755 : 0o644],
                                                  ofItemAtPath: destination)
        }
        let setupRun = try XCTUnwrap(stage.runs.first { $0.hasPrefix("/") && $0.hasSuffix("runtime-setup.sh") }, "\(stage.runs)")
        for _ in 0..<2 {
            let setup = try await ProcessRunner.run(scratch.path + setupRun, [], timeout: 30,
                                                    environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIVEGATE_ROOT": scratch.path])
            XCTAssertEqual(setup.exitCode, 0, setup.stderr)
        }
        let id = try await ProcessRunner.run("id", ["-u", stage.user], timeout: 10)
        let gid = try await ProcessRunner.run("id", ["-g", stage.user], timeout: 10)
        let user = UnprivilegedUser(uid: try XCTUnwrap(UInt32(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "user \(stage.user)"),
                                    gid: try XCTUnwrap(UInt32(gid.stdout.trimmingCharacters(in: .whitespacesAndNewlines))))
        XCTAssertNotEqual(user.uid, 0)

        // ENV as the image sets it (paths inside the scratch root), plus what `docker run -e` would add.
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin"]
        for (name, value) in stage.env { env[name] = value.hasPrefix("/") ? scratch.path + value : value }
        let dataDir = try XCTUnwrap(env["LIVEGATE_DATA_DIR"])
        let attributes = try FileManager.default.attributesOfItem(atPath: dataDir)
        XCTAssertEqual((attributes[.ownerAccountID] as? UInt).map(UInt32.init), user.uid, "the data folder is the runtime user's before VOLUME")
        let port = freePorts(2)
        env.merge(["LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1", "LIVEGATE_RTMP_PORT": "\(port)",
                   "LIVEGATE_HTTP_PORT": "\(port + 1)", "LIVE_TOKEN_ID": "tok_img", "LIVE_TOKEN_SECRET": "img-secret-0123456789"]) { $1 }

        // ENTRYPOINT + CMD, as the USER, from the WORKDIR.
        let command = stage.entrypoint + stage.cmd
        let log = scratch.appendingPathComponent("container.log")
        let gateway = try user.start(scratch.path + command[0], Array(command.dropFirst()), environment: env, log: log,
                                     workingDirectory: scratch.path + stage.workdir)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        guard try await waitForLog(log, "RTMP listener started", process: gateway) else { return }

        // HEALTHCHECK's command, run the way Docker runs it: in the container, as its user.
        let health = try await user.run(scratch.path + stage.healthcheck[0], Array(stage.healthcheck.dropFirst()), environment: env)
        XCTAssertEqual(health.exitCode, 0, health.stdout + health.stderr)
        XCTAssertTrue(health.stdout.contains("http://127.0.0.1:\(port + 1)/readyz: 200"), health.stdout)

        // A publisher streams to it.
        let clip = try await MediaTools.makeClip(seconds: 2, in: scratch)
        let api = "http://127.0.0.1:\(port + 1)"
        let created = try await ProcessRunner.run("curl", ["-s", "-u", "tok_img:img-secret-0123456789", "-X", "POST", "\(api)/v1/channels",
                                                           "--json", #"{"name":"image","userId":"u1"}"#], timeout: 10)
        let channel = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any],
                                    created.stdout)
        let publish = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                             "rtmp://127.0.0.1:\(port)/live/\(try XCTUnwrap(channel["streamId"] as? String))"], timeout: 30)
        XCTAssertEqual(publish.exitCode, 0, publish.stderr + ((try? String(contentsOf: log, encoding: .utf8)) ?? ""))
        var frames = 0
        for _ in 0..<50 where frames == 0 {
            let sessions = try await ProcessRunner.run("curl", ["-s", "-u", "tok_img:img-secret-0123456789",
                                                                "\(api)/v1/channels/\(try XCTUnwrap(channel["id"] as? String))/sessions"], timeout: 10)
            let items = ((try? JSONSerialization.jsonObject(with: Data(sessions.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any])?["items"] as? [[String: Any]]
            if items?.first?["reason"] as? String == "unpublished" { frames = items?.first?["videoFrames"] as? Int ?? 0 }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(frames, 50, "2 s at 25 fps")
        // The node id was generated into the volume, by and for the runtime user.
        let nodeId = (try? String(contentsOfFile: dataDir + "/node-id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        XCTAssertTrue(nodeId.hasPrefix("node_"), nodeId)
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
