import Foundation
import Logging
import MallocInterposerSwift
import MediaPipeline
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTMPCore
import RTMPServer

/// `alloc-guard`: heap allocations per received media message on the ingest path, counted, not
/// timed (docs/architecture.md, "Performance guard"). It runs the real RTMP listener — the NIO
/// handler, the chunk decoder, the connection's state machine, the session's counters — feeding
/// the media hub as `livegate serve` does for a channel with no outputs, and replays a clip with
/// `rtmp-bench` (another process: its allocations are not counted). Counting starts once every
/// publisher is live and stops before any ends, so connection set-up and tear-down are outside
/// the window; the figure is mallocs in the window divided by media messages in the window.
///
/// Run with the interposer preloaded (it counts nothing otherwise, and says so):
///   LD_PRELOAD=.build/debug/libMallocInterposerSwift.so .build/debug/alloc-guard \
///     --bench .build/debug/rtmp-bench --clip clip.flv
/// Prints one JSON object; the test suite's `AllocationGuardTests` holds the budget.
@main
struct AllocationGuard {
    static func main() async throws {
        let args = Arguments(CommandLine.arguments.dropFirst())
        guard let bench = args["--bench"], let clip = args["--clip"] else {
            FileHandle.standardError.write(Data("usage: alloc-guard --bench RTMP_BENCH --clip FILE.flv [--publishers N] [--seconds S] [--flat-out] [--hls]\n".utf8))
            exit(2)
        }
        let publishers = Int(args["--publishers"] ?? "") ?? 8
        let seconds = Double(args["--seconds"] ?? "") ?? 6
        let flatOut = args.has("--flat-out")
        // --hls: every channel writes HLS, so the output path (queue, lane, muxing, files) is
        // counted too, on its own threads.
        let hls = args.has("--hls")

        var logger = Logger(label: "alloc-guard")
        logger.logLevel = ProcessInfo.processInfo.environment["ALLOC_GUARD_LOG"] == nil ? .error : .notice
        let dataDirectory = NSTemporaryDirectory() + "alloc-guard-\(getpid())"
        let hub = MediaHub(settings: .init(dataDirectory: dataDirectory), logger: logger) { _ in true }
        let sink = CountingSink(hub: hub, hls: hls)
        let keys = (0..<publishers).map { "guard\($0)" }
        let server = RTMPServer(configuration: RTMPServerConfiguration(host: "127.0.0.1", port: 0, maxConnectionsPerIP: 0),
                                authorizer: StaticKeyAuthorizer(keys: Set(keys)), sink: sink, logger: logger)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilListening()

        // posix_spawn, not Foundation's Process: its run-loop thread's teardown at exit crashed
        // now and then under the preloaded interposer (swift-corelibs-foundation).
        let loadArgs = [bench, "--url", "rtmp://127.0.0.1:\(port)/live", "--file", clip, "--publishers", "\(publishers)",
                        "--duration", "\(seconds)", "--key-prefix", "guard", "--json"] + (flatOut ? ["--flat-out"] : [])
        // The load generator's allocations are its own: no interposer in its environment.
        let loadEnv = ProcessInfo.processInfo.environment.filter { $0.key != "LD_PRELOAD" }.map { "\($0.key)=\($0.value)" }
        let load = try spawn(loadArgs, environment: loadEnv)

        // Real time: every publisher live first, so no connection's set-up is counted. Flat out,
        // the first publishers' flood can hold the others' handshakes back for seconds: counting
        // starts with the first (a late one's set-up, a few hundred allocations, is lost among
        // hundreds of thousands of messages).
        let needed = flatOut ? 1 : publishers
        let deadline = Date().addingTimeInterval(30)
        while sink.started < needed, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard sink.started >= needed else { fail("only \(sink.started) of \(publishers) publishers started") }
        try await Task.sleep(for: .milliseconds(500))

        // Each publisher streams `seconds` from its own start: the window ends half a second
        // before the first of them stops (flat out on a busy machine, the starts spread).
        let window = (sink.firstStart ?? .now) + .milliseconds(Int64(seconds * 1000) - 500) - ContinuousClock.now
        guard window >= .seconds(1) else { fail("publishers started too far apart: \(window) left to count in") }
        MallocInterposerSwift.initialize()
        let before = sink.messages
        MallocInterposerSwift.hook()
        try await Task.sleep(for: window)
        MallocInterposerSwift.unhook()
        let messages = sink.messages - before
        let stats = MallocInterposerSwift.getStatistics()
        let ended = sink.ended

        var status: Int32 = 0
        waitpid(load, &status, 0)
        serverTask.cancel()
        guard ended == 0 else { fail("\(ended) publishers ended inside the counting window") }
        guard messages > 0 else { fail("no media messages in the counting window") }
        let report: [String: Any] = [
            "messages": messages, "mallocs": stats.mallocCount, "mallocBytes": stats.mallocBytesCount,
            "mallocsPerMessage": (Double(stats.mallocCount) / Double(messages) * 1000).rounded() / 1000,
            "bytesPerMessage": (Double(stats.mallocBytesCount) / Double(messages)).rounded(),
            "publishers": publishers, "flatOut": flatOut, "hls": hls, "interposed": stats.mallocCount > 0,
        ]
        // The HLS files (`--hls`) would otherwise stay behind: the process ends before they expire.
        try? FileManager.default.removeItem(atPath: dataDirectory)
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        exit(stats.mallocCount > 0 ? 0 : 3)
    }

    /// Starts `arguments[0]` with its output on /dev/null; returns its pid.
    static func spawn(_ arguments: [String], environment: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard rc == 0 else { fail("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("alloc-guard: \(message)\n".utf8))
        exit(1)
    }
}

/// What `livegate serve` does per message for a channel without outputs (or with HLS only,
/// `--hls`), minus the store: the media hub's session takes every frame (and copies nothing
/// without outputs). The
/// coordinator's own per-frame part (a thumbnail offer and a first-keyframe check on video
/// keyframes only) is not in it.
final class CountingSink: IngestEventSink {
    private struct Counts {
        var firstStart: ContinuousClock.Instant?
        var started = 0
        var ended = 0
        var messages = 0
    }

    private let hub: MediaHub
    private let hls: Bool
    private let counts = NIOLockedValueBox(Counts())

    init(hub: MediaHub, hls: Bool) {
        self.hub = hub
        self.hls = hls
    }

    var started: Int { counts.withLockedValue { $0.started } }
    var firstStart: ContinuousClock.Instant? { counts.withLockedValue { $0.firstStart } }
    var ended: Int { counts.withLockedValue { $0.ended } }
    var messages: Int { counts.withLockedValue { $0.messages } }

    func publishStarted(_ session: IngestSession) {
        // What the coordinator does once the channel is known: a plan with no outputs (the
        // session then copies and queues nothing).
        let id = session.connectionID
        hub.sessionStarted(connectionID: id)
        hub.configure(connectionID: id, plan: OutputPlan(channelId: "ch_guard\(id)", userId: "guard", sessionId: "ses_guard\(id)",
                                                         hls: hls, record: false, forwards: []))
        counts.withLockedValue {
            if $0.firstStart == nil { $0.firstStart = .now }
            $0.started += 1
        }
    }

    func media(_ frame: MediaFrame, session: IngestSession) {
        hub.media(frame, connectionID: session.connectionID)
        counted()
    }

    /// As `livegate serve` does: the connection's media input found once.
    func mediaReceiver(for session: IngestSession) -> (any IngestMediaReceiver)? {
        Receiver(input: hub.input(connectionID: session.connectionID), sink: self)
    }

    final class Receiver: IngestMediaReceiver {
        let input: MediaInput?
        let sink: CountingSink
        init(input: MediaInput?, sink: CountingSink) {
            self.input = input
            self.sink = sink
        }
        func media(_ frame: MediaFrame, session: IngestSession) {
            input?.media(frame)
            sink.counted()
        }
    }

    func counted() { counts.withLockedValue { $0.messages += 1 } }

    func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {
        hub.connectionEnded(connectionID: session.connectionID)
        counts.withLockedValue { $0.ended += 1 }
    }
}

/// `--name value` pairs and bare flags.
struct Arguments {
    private let words: [String]
    init(_ words: ArraySlice<String>) { self.words = Array(words) }
    subscript(name: String) -> String? {
        guard let i = words.firstIndex(of: name), i + 1 < words.count else { return nil }
        return words[i + 1]
    }
    func has(_ flag: String) -> Bool { words.contains(flag) }
}
