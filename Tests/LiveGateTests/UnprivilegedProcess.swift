import Foundation
import TestSupport
import XCTest

/// Runs a program as another (unprivileged) user, the way the Docker image and most operators
/// run LiveGate. CI runs as root — which hides privileged socket options and root-owned folders —
/// so the end-to-end tests that matter drop to a real other uid with `setpriv`.
struct UnprivilegedUser {
    var uid: UInt32
    var gid: UInt32

    static let nobody = UnprivilegedUser(uid: 65534, gid: 65534)

    /// The command line that runs `executable` as this user (setpriv when root; as is otherwise,
    /// when the test already runs unprivileged).
    func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        guard getuid() == 0 else { return (executable, arguments) }
        return ("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--", executable] + arguments)
    }

    /// Hands `path` (recursively) to this user.
    func own(_ path: String) throws {
        guard getuid() == 0 else { return }
        let enumerator = FileManager.default.enumerator(atPath: path)
        try FileManager.default.setAttributes([.ownerAccountID: uid, .groupOwnerAccountID: gid], ofItemAtPath: path)
        while let item = enumerator?.nextObject() as? String {
            try FileManager.default.setAttributes([.ownerAccountID: uid, .groupOwnerAccountID: gid],
                                                  ofItemAtPath: (path as NSString).appendingPathComponent(item))
        }
    }

    /// Runs a command as this user to completion.
    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Double = 30) async throws -> ProcessResult {
        let (program, args) = command(executable, arguments)
        return try await ProcessRunner.run(program, args, timeout: timeout, environment: environment)
    }

    /// Starts a long-running command as this user with stderr+stdout in `log`.
    func start(_ executable: String, _ arguments: [String], environment: [String: String], log: URL,
               workingDirectory: String? = nil) throws -> Process {
        let (program, args) = command(executable, arguments)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = args
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        return process
    }

    /// The effective uid of a running process, from /proc (what the kernel says it runs as).
    static func effectiveUID(of pid: Int32) -> UInt32? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
        return fields.count > 2 ? UInt32(fields[2]) : nil
    }
}

extension XCTestCase {
    /// Waits until `log` contains `marker` while `process` runs; fails with the log otherwise.
    func waitForLog(_ log: URL, _ marker: String, process: Process, timeout: Double = 30) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(marker) { return true }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("'\(marker)' not logged: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        return false
    }

    /// A copy of the gateway binary in a world-readable folder (the checkout may sit under a
    /// folder another user cannot enter).
    func gatewayBinaryCopy(in dir: URL) throws -> String {
        let copy = dir.appendingPathComponent("livegate").path
        if !FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: gatewayBinary, toPath: copy) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        return copy
    }
}
