import Foundation

/// Runs an external tool (ffmpeg, ffprobe, the livegate binary) with a hard time limit,
/// capturing stdout and stderr. Every test that spawns a process goes through this so no
/// test can hang CI.
public struct ProcessResult: Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var duration: Double
    public var timedOut: Bool
}

public enum ProcessRunner {
    /// - Parameter timeoutSignal: sent when `timeout` passes (SIGKILL simulates a crash: no clean shutdown).
    public static func run(_ executable: String, _ arguments: [String], timeout: Double = 60,
                           environment: [String: String]? = nil, timeoutSignal: Int32 = SIGTERM) async throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try which(executable))
        process.arguments = arguments
        if let environment { process.environment = environment }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        // Each pipe is drained to EOF on its own dispatch thread (not a cooperative one), so no
        // output is lost between the last read and the exit, and a chatty child never blocks.
        let outData = DataCollector(), errData = DataCollector()
        let drained = DispatchGroup()
        // terminationHandler, not waitUntilExit(): the latter spins a run loop per waiting thread
        // and, in corelibs Foundation, serialises concurrent waits.
        let finished = DataCollector()
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.yield(); exited.continuation.finish() }
        try process.run()
        for (pipe, sink) in [(outPipe, outData), (errPipe, errData)] {
            DispatchQueue.global().async(group: drained) { sink.append(pipe.fileHandleForReading.readDataToEndOfFile()) }
        }
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            finished.markTimedOut()
            kill(pid, timeoutSignal)
            try await Task.sleep(for: .seconds(2))
            kill(pid, SIGKILL)
        }
        for await _ in exited.stream {}
        watchdog.cancel()
        let timedOut = finished.timedOut
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in drained.notify(queue: .global()) { done.resume() } }
        return ProcessResult(exitCode: process.terminationStatus, stdout: outData.string, stderr: errData.string,
                             duration: Date().timeIntervalSince(start), timedOut: timedOut)
    }

    public static func which(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw ToolMissing(name: name)
    }

    public struct ToolMissing: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "\(name) not found on PATH; run `make test`, which installs it" }
    }
}

final class DataCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var _timedOut = false

    func append(_ d: Data) { lock.withLock { data.append(d) } }
    func markTimedOut() { lock.withLock { _timedOut = true } }
    var timedOut: Bool { lock.withLock { _timedOut } }
    var string: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
