import Foundation
import LiveGateModel
import Logging
import MediaPipeline
import NIOCore
import NIOPosix
import RTMPServer

/// Thumbnails of live channels (docs/contract.md §4, "Thumbnails"): a channel's latest
/// keyframe decoded, scaled and encoded on a small thread pool of its own — never on an event
/// loop or an output thread — at most once per channel and width every `intervalSec`, within
/// `maxDecodesPerSec` for the whole node. Keyframes are held only for channels someone asked
/// about within the minute (`IngestSession.wantKeyframes`), so nobody looking costs nothing.
actor ThumbnailService {
    struct Settings: Sendable {
        var intervalSec: Double = 5
        var maxDecodesPerSec: Double = 10
        var threads = 2
    }

    private struct Cached {
        var picture: ThumbnailDecoder.Picture
        var takenAt: Date
        var keyframeAt: NIODeadline
    }

    let settings: Settings
    private let pool: NIOThreadPool
    private let logger: Logger
    private var cache: [String: Cached] = [:]
    private var inFlight: [String: Task<ThumbnailAnswer, Never>] = [:]
    /// The decode budget: a token bucket of `maxDecodesPerSec`, as deep as one second.
    private var tokens: Double
    private var refilledAt = ContinuousClock.now
    private(set) var decodes = 0
    private(set) var decodeSeconds = 0.0

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        tokens = max(1, settings.maxDecodesPerSec)
        pool = NIOThreadPool(numberOfThreads: max(1, settings.threads))
        pool.start()
    }

    var usage: (decodes: Int, seconds: Double) { (decodes, decodeSeconds) }

    func shutdown() async { try? await pool.shutdownGracefully() }

    private func takeToken() -> Bool {
        let now = ContinuousClock.now
        let elapsed = Double((now - refilledAt).components.seconds) + Double((now - refilledAt).components.attoseconds) / 1e18
        refilledAt = now
        tokens = min(max(1, settings.maxDecodesPerSec), tokens + elapsed * settings.maxDecodesPerSec)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// The channel's picture at `width` (nil: its own size, up to 1920).
    func thumbnail(channelId: String, session: IngestSession, width: Int?) async -> ThumbnailAnswer {
        let key = "\(channelId)|\(width.map(String.init) ?? "-")"
        let held = session.wantKeyframes()
        if let hit = cache[key], Date().timeIntervalSince(hit.takenAt) < settings.intervalSec || held.map({ $0.heldAt == hit.keyframeAt }) == true {
            return .image(jpeg: hit.picture.jpeg, width: hit.picture.width, height: hit.picture.height, takenAt: hit.takenAt)
        }
        if let running = inFlight[key] { return await running.value }
        guard let keyframe = held else {
            // Held from now on: the next keyframe (one GOP away) makes the first picture.
            return .waiting(retryAfterSec: 2)
        }
        guard takeToken() else {
            if let stale = cache[key] { return .image(jpeg: stale.picture.jpeg, width: stale.picture.width, height: stale.picture.height, takenAt: stale.takenAt) }
            return .busy(retryAfterSec: 1)
        }
        let pool = self.pool
        let task = Task<ThumbnailAnswer, Never> {
            let started = ContinuousClock.now
            let header = keyframe.header.map { Array($0.readableBytesView) } ?? []
            let frame = Array(keyframe.frame.readableBytesView)
            let result: Result<ThumbnailDecoder.Picture, any Error>
            do {
                result = .success(try await pool.runIfActive {
                    try ThumbnailDecoder.jpeg(codec: keyframe.codec, extradata: header, keyframe: frame, width: width)
                })
            } catch {
                result = .failure(error)
            }
            let spent = ContinuousClock.now - started
            return self.finish(key: key, result: result, keyframeAt: keyframe.heldAt,
                                     seconds: Double(spent.components.seconds) + Double(spent.components.attoseconds) / 1e18, channelId: channelId)
        }
        inFlight[key] = task
        return await task.value
    }

    /// A finished recording's poster, `<file>.jpg` beside it (its first keyframe, at most 1280
    /// wide), made on the pool; a failure is logged and leaves no file.
    func makePoster(file: String) async {
        let pool = self.pool
        do {
            let picture = try await pool.runIfActive { try ThumbnailDecoder.poster(file: file, width: 1280) }
            let temporary = file + ".jpg.tmp"
            try Data(picture.jpeg).write(to: URL(fileURLWithPath: temporary))
            // The recording may have been deleted meanwhile: its poster must not outlive it.
            guard FileManager.default.fileExists(atPath: file) else {
                unlink(temporary)
                return
            }
            guard rename(temporary, file + ".jpg") == 0 else { throw ThumbnailDecoder.Failure(description: "rename: \(String(cString: strerror(errno)))") }
            if !FileManager.default.fileExists(atPath: file) { unlink(file + ".jpg") }
        } catch {
            logger.warning("recording poster not made", metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }

    private func finish(key: String, result: Result<ThumbnailDecoder.Picture, any Error>, keyframeAt: NIODeadline, seconds: Double,
                        channelId: String) -> ThumbnailAnswer {
        inFlight[key] = nil
        decodes += 1
        decodeSeconds += seconds
        switch result {
        case .success(let picture):
            let now = Date()
            cache[key] = Cached(picture: picture, takenAt: now, keyframeAt: keyframeAt)
            // Channels nobody asked about for a minute leave the cache.
            cache = cache.filter { now.timeIntervalSince($0.value.takenAt) < 60 }
            return .image(jpeg: picture.jpeg, width: picture.width, height: picture.height, takenAt: now)
        case .failure(let error):
            logger.warning("thumbnail not made", metadata: ["channel": "\(channelId)", "error": "\(error)"])
            return .failed("\(error)")
        }
    }
}
