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
        // Close-on-exec pipes of our own, not `Pipe()` (see `closeOnExecPipe`).
        let out = try closeOnExecPipe(), err = try closeOnExecPipe()
        process.standardOutput = FileHandle(fileDescriptor: out.write, closeOnDealloc: false)
        process.standardError = FileHandle(fileDescriptor: err.write, closeOnDealloc: false)
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
        do {
            try process.run()
        } catch {
            for fd in [out.read, out.write, err.read, err.write] { close(fd) }
            throw error
        }
        // Only the child holds the write ends now: EOF comes when it (and anything it started
        // that kept its output) is done.
        close(out.write)
        close(err.write)
        for (fd, sink) in [(out.read, outData), (err.read, errData)] {
            DispatchQueue.global().async(group: drained) {
                sink.append(readToEnd(fd))
                close(fd)
            }
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

    /// A pipe whose two ends are close-on-exec from the moment they exist: a Unix socket pair
    /// made with `SOCK_CLOEXEC` (Swift's Glibc module does not import `pipe2`; setting the flag
    /// after `pipe()` would leave the very window described below).
    ///
    /// Why not `Pipe()`: Foundation's `Process` on Linux closes, in a child, the descriptors
    /// numbered up to the highest one open *when it prepared the spawn*; a pipe another thread
    /// made in between — numbered above that, where new descriptors go once many are open —
    /// was inherited by whatever was being spawned. A runner then waited for its pipe's EOF until
    /// that other process ended: a status poll's `curl` returned only when a 10 s publisher
    /// (spawned at the same moment) exited, so the test saw the channel offline after the whole
    /// publish had come and gone (MultitrackOutputsTests and ThumbnailTests, late in full runs).
    static func closeOnExecPipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return (fds[0], fds[1])
    }

    /// Everything a descriptor gives until EOF (or an error other than EINTR).
    static func readToEnd(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return data
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
