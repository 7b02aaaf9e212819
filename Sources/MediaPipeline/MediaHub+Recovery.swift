import Foundation

/// A recording the previous run did not finish (its `.mp4.part` is still on disk): the process
/// was killed, or the shutdown deadline passed before the file was completed.
public struct InterruptedRecording: Sendable, Equatable {
    public var channelId: String
    public var sessionId: String
    public var partPath: String
    /// Where the finished file goes (and the path its video record carries).
    public var finalPath: String { String(partPath.dropLast(".part".count)) }
}

extension MediaHub {
    /// HLS folders a previous run left (a `kill -9` never wrote `EXT-X-ENDLIST` nor removed
    /// them): at start-up no session is live on this node, so every one is stale — a player
    /// would otherwise keep polling a "live" playlist that never moves. Returns the channels.
    /// `keeping`: channels whose session was resumed (handed over, or cut off by a crash, and
    /// still inside its window): their playlists stay for the publisher coming back.
    @discardableResult
    public func removeStaleHLS(keeping: Set<String> = []) -> [String] {
        let fm = FileManager.default
        let root = settings.hlsDirectory
        let stale = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { !keeping.contains($0) }
        for channelId in stale { try? fm.removeItem(atPath: root + "/" + channelId) }
        return stale
    }

    /// Every `.mp4.part` under `data/recordings/CHANNEL_ID/`, oldest first. Names are
    /// `SESSION_ID.mp4.part` or `SESSION_ID-N.mp4.part` (the Nth file of a session).
    public func interruptedRecordings() -> [InterruptedRecording] {
        let root = settings.recordingsDirectory
        let fm = FileManager.default
        var found: [(Date, InterruptedRecording)] = []
        for channelId in (try? fm.contentsOfDirectory(atPath: root)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: root + "/" + channelId)) ?? [] where name.hasSuffix(MP4Recorder.partSuffix) {
                var stem = Substring(name.dropLast(MP4Recorder.partSuffix.count))
                if let dash = stem.lastIndex(of: "-"), !stem[stem.index(after: dash)...].isEmpty,
                   stem[stem.index(after: dash)...].allSatisfy(\.isNumber) {
                    stem = stem[..<dash]
                }
                let path = "\(root)/\(channelId)/\(name)"
                let modified = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
                found.append((modified, InterruptedRecording(channelId: channelId, sessionId: String(stem), partPath: path)))
            }
        }
        return found.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Completes an interrupted recording into its final MP4 (blocking file I/O, on a thread of
    /// its own so no event loop or cooperative thread waits). nil: nothing in it was whole,
    /// and the `.part` is gone. The `.part` of a finished file stays until `discard`.
    public func finish(_ recording: InterruptedRecording) async throws -> RecordingFile? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RecordingFile?, any Error>) in
            let thread = Thread {
                Thread.current.name = "livegate.recover"  // from inside: Foundation on Linux names only the calling thread
                do throws(AVFailure) {
                    continuation.resume(returning: try MP4Recorder.recover(partPath: recording.partPath))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// Removes the `.part` once its recording is on record (or was already).
    public func discard(_ recording: InterruptedRecording) {
        try? FileManager.default.removeItem(atPath: recording.partPath)
    }
}
