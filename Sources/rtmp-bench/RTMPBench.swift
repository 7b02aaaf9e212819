import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import RTMPCore

/// `rtmp-bench`: N concurrent RTMP publishers replaying an FLV file, from one process, built on
/// SwiftNIO and RTMPCore's encoder (no ffmpeg processes). Prints connect-to-`Publish.Start`
/// latency percentiles, bytes and messages sent, and failures by cause.
@main
struct RTMPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtmp-bench",
        abstract: "Load generator: concurrent RTMP publishers replaying an FLV file.")

    @Option(help: "Server and app: rtmp://HOST[:PORT]/APP")
    var url: String

    @Option(help: "FLV file to replay (looped).")
    var file: String

    @Option(help: "Concurrent publishers.")
    var publishers = 10

    @Option(help: "Seconds each publisher streams after NetStream.Publish.Start.")
    var duration: Double = 10

    @Option(help: "New connections per second (0 = all at once).")
    var rate: Double = 0

    @Option(help: "Real time: each publisher sends the tags that are due this often, in one write (milliseconds).")
    var intervalMs = 20

    @Flag(help: "Send as fast as the socket accepts instead of at the clip's real-time pace.")
    var flatOut = false

    @Option(help: "File with one stream key per line, used in order (round-robin).")
    var keysFile: String?

    @Option(help: "Without --keys-file, publisher i uses this prefix followed by i.")
    var keyPrefix = "bench"

    @Option(help: "Seconds to wait for Publish.Start before counting a timeout.")
    var timeout: Double = 10

    @Option(help: "Event loop threads.")
    var threads = System.coreCount

    @Flag(help: "Use the plain (non-digest) handshake.")
    var plainHandshake = false

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Option(help: "Write 'KEY UNIX_MS' per accepted publish to this file (webhook latency matching).")
    var publishTimes: String?

    func validate() throws {
        guard publishers > 0 else { throw ValidationError("--publishers must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard (1...1000).contains(intervalMs) else { throw ValidationError("--interval-ms must be 1…1000") }
    }

    func run() async throws {
        guard let components = URLComponents(string: url), components.scheme == "rtmp", let host = components.host,
              let app = components.path.split(separator: "/").first.map(String.init) else {
            throw ValidationError("--url must look like rtmp://HOST[:PORT]/APP")
        }
        let port = components.port ?? 1935
        let clip = try FLVClip(path: file)
        let keys: [String] = try keysFile.map { try String(contentsOfFile: $0, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init) }
            ?? (0..<publishers).map { "\(keyPrefix)\($0)" }
        guard !keys.isEmpty else { throw ValidationError("--keys-file has no keys") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let report = BenchReport()
        let options = PublisherHandler.Options(app: app, tcUrl: "rtmp://\(host):\(port)/\(app)",
                                               durationMs: Int64(duration * 1000), digestHandshake: !plainHandshake,
                                               pacers: flatOut ? nil : try await LoopPacers.make(group: group, interval: .milliseconds(Int64(intervalMs))),
                                               clips: EncodedClips(clip: clip, chunkSize: PublisherHandler.chunkSize))
        let started = ContinuousClock.now
        var closed: [EventLoopFuture<Void>] = []
        for i in 0..<publishers {
            if rate > 0 {
                let due = started + .milliseconds(Int64(Double(i) / rate * 1000))
                if ContinuousClock.now < due { try await Task.sleep(until: due, clock: .continuous) }
            }
            let key = keys[i % keys.count]
            let connectStarted = NIODeadline.now()
            let bootstrap = ClientBootstrap(group: group)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(Int64(timeout)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            PublisherHandler(clip: clip, options: options, key: key, report: report, connectStarted: connectStarted))
                    }
                }
            let timeoutMs = Int64(timeout * 1000)
            let done = bootstrap.connect(host: host, port: port).flatMap { channel -> EventLoopFuture<Void> in
                channel.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
                    let pipeline = channel.pipeline.syncOperations
                    if let handler = try? pipeline.handler(type: PublisherHandler.self), let context = try? pipeline.context(handlerType: PublisherHandler.self) {
                        handler.timedOut(context: context)
                    }
                }
                return channel.closeFuture
            }.flatMapErrorThrowing { error in
                report.failed("connect: \(error)", wasPublishing: false)
            }
            closed.append(done)
        }
        let deadline = Double(publishers) / max(rate, 1e-9) * (rate > 0 ? 1 : 0) + duration + timeout + 30
        let all = EventLoopFuture.andAllComplete(closed, on: group.next())
        let finished = await withTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { (try? await all.get()) != nil }
            tasks.addTask {
                try? await Task.sleep(for: .seconds(deadline))
                return false
            }
            let first = await tasks.next() ?? false
            tasks.cancelAll()
            return first
        }
        let seconds = Double((ContinuousClock.now - started).components.seconds)
            + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        if !finished { report.failed("benchmark deadline passed with connections still open", wasPublishing: false) }
        if let publishTimes { try report.publishStartLines().write(toFile: publishTimes, atomically: true, encoding: .utf8) }
        print(json ? report.json(publishers: publishers, seconds: seconds) : report.text(publishers: publishers, seconds: seconds))
        try? await group.shutdownGracefully()
        if report.failureCount > 0 { throw ExitCode(1) }
    }
}
