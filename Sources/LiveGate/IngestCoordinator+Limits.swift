import LiveGateModel
import ChannelStore
import Foundation
import IngestCore
import RTMPCore
import RTMPServer

/// Measuring the running limits (docs/contract.md §4 user config) and reporting what exceeds them to the
/// channel's machine, which decides what follows (`limitObserved`). The owner's limits are read
/// once per `limitsTTL`; the API drops a user's entry when it replaces them.
extension IngestCoordinator {
    /// docs/contract.md §4: `maxBitrateKbps` is judged over a sustained 10 s.
    static let bitrateWindow: TimeInterval = 10
    static let limitsTTL: TimeInterval = 30

    func userLimits(_ userId: String) async throws -> UserLimits {
        if let cached = limitsCache[userId], cached.until > clock.now() { return cached.limits }
        let limits = try await store.userLimits(userId: userId)
        if limitsCache.count > 10_000 { limitsCache.removeAll() }
        limitsCache[userId] = (limits, clock.now().addingTimeInterval(Self.limitsTTL))
        return limits
    }

    public func userLimitsChanged(_ userId: String) async {
        limitsCache[userId] = nil
        // Running sessions of that user judge by the new limits from now on.
        guard let limits = try? await store.userLimits(userId: userId) else { return }
        for (id, tracked) in channels where tracked.machine.channel.userId == userId {
            channels[id]?.limits = limits
            // Raising or removing a limit ended its cooldowns in the store: the machines follow.
            if let fresh = try? await store.channel(id: id) { channels[id]?.machine.channelEdited(fresh) }
        }
    }

    private func observe(_ ingest: IngestSession, _ limit: UserLimit, configured: JSONValue, measured: JSONValue, now: Date) async {
        guard let id = connections.channel(of: ingest.connectionID) else { return }
        let violation = ChannelLifecycle.LimitViolation(limit: limit, configured: configured, measured: measured)
        await feed(id) { $0.limitObserved(ingest.connectionID, violation, now: now) }
    }

    private func limits(of ingest: IngestSession) -> UserLimits? {
        connections.channel(of: ingest.connectionID).flatMap { channels[$0]?.limits }
    }

    /// From a video sequence header: codec, size, frame rate (SPS timing).
    func checkCodecLimits(_ ingest: IngestSession, _ params: VideoCodecParameters, now: Date) async {
        guard let l = limits(of: ingest) else { return }
        if let allowed = l.allowedVideoCodecs, !allowed.contains(params.codec.rawValue) {
            await observe(ingest, .allowedVideoCodecs, configured: .array(allowed.map { .string($0) }), measured: .string(params.codec.rawValue), now: now)
        } else if let max = l.maxWidth, let w = params.width, w > max {
            await observe(ingest, .maxWidth, configured: .number(Double(max)), measured: .number(Double(w)), now: now)
        } else if let max = l.maxHeight, let h = params.height, h > max {
            await observe(ingest, .maxHeight, configured: .number(Double(max)), measured: .number(Double(h)), now: now)
        } else if let max = l.maxFps, let fps = params.frameRate, fps > max + 0.01 {
            await observe(ingest, .maxFps, configured: .number(max), measured: .number(fps), now: now)
        }
    }

    /// From `onMetaData` (what the encoder declares, when the SPS does not say).
    func checkMetadataLimits(_ ingest: IngestSession, width: Double?, height: Double?, fps: Double?, now: Date) async {
        guard let l = limits(of: ingest) else { return }
        if let max = l.maxWidth, let w = width, w > Double(max) {
            await observe(ingest, .maxWidth, configured: .number(Double(max)), measured: .number(w), now: now)
        } else if let max = l.maxHeight, let h = height, h > Double(max) {
            await observe(ingest, .maxHeight, configured: .number(Double(max)), measured: .number(h), now: now)
        } else if let max = l.maxFps, let f = fps, f > max + 0.01 {
            await observe(ingest, .maxFps, configured: .number(max), measured: .number(f), now: now)
        }
    }

    /// Sustained bit rate of the current publisher over `bitrateWindow`.
    func checkBitrate(_ channelId: String, now: Date) async {
        guard let tracked = channels[channelId], let maxKbps = tracked.limits.maxBitrateKbps, let ingest = current(tracked),
              let kbps = channels[channelId]?.book.bitrate(now: now, bytes: ingest.liveStats.mediaBytes, window: Self.bitrateWindow) else { return }
        if kbps > Double(maxKbps) {
            await observe(ingest, .maxBitrateKbps, configured: .number(Double(maxKbps)), measured: .number((kbps * 10).rounded() / 10), now: now)
        }
    }
}
