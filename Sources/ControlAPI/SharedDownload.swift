import NIOConcurrencyHelpers
import NIOCore

/// One fetch from another node that any number of local requests read while it arrives
/// (docs/contract.md §7, "Files on several nodes"): the first viewer's request starts it, later
/// ones join it and get every chunk so far, then each new one as it comes — so N viewers of a
/// segment cost one node-to-node fetch, and nobody waits for the whole file before the first
/// byte. Chunks are kept for the cache; a fetch that fails mid-way fails every reader.
final class SharedDownload: Sendable {
    enum Head: Sendable, Equatable {
        /// The peer answered: its status and the headers worth passing on.
        case answered(status: Int, headers: [String: String])
        /// The peer could not be reached or did not answer in time.
        case unreachable(String)
    }

    private struct State {
        var head: Head?
        var headWaiters: [CheckedContinuation<Head, Never>] = []
        var chunks: [ByteBuffer] = []
        var bytes = 0
        var finished = false
        var failure: String?
        var chunkWaiters: [(index: Int, continuation: CheckedContinuation<ByteBuffer?, any Error>)] = []
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    private let state = NIOLockedValueBox(State())

    var bytes: Int { state.withLockedValue { $0.bytes } }
    var isComplete: Bool { state.withLockedValue { $0.finished && $0.failure == nil } }

    /// The peer's answer, once it is known.
    func head() async -> Head {
        await withCheckedContinuation { continuation in
            let known = state.withLockedValue { s -> Head? in
                if let head = s.head { return head }
                s.headWaiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Chunk `index`, waiting for it if it has not arrived; nil after the last.
    func chunk(_ index: Int) async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { continuation in
            enum Now { case chunk(ByteBuffer), end, failed(String), wait }
            let now = state.withLockedValue { s -> Now in
                if index < s.chunks.count { return .chunk(s.chunks[index]) }
                if let failure = s.failure { return .failed(failure) }
                if s.finished { return .end }
                s.chunkWaiters.append((index, continuation))
                return .wait
            }
            switch now {
            case .chunk(let b): continuation.resume(returning: b)
            case .end: continuation.resume(returning: nil)
            case .failed(let why): continuation.resume(throwing: Failed(description: why))
            case .wait: break
            }
        }
    }

    /// Every chunk, joined (playlists: small, and rewritten before they are sent).
    func whole() async throws -> ByteBuffer {
        var all = ByteBuffer()
        var index = 0
        while var next = try await chunk(index) {
            all.writeBuffer(&next)
            index += 1
        }
        return all
    }

    func answered(_ head: Head) {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Head, Never>] in
            s.head = head
            if case .unreachable(let why) = head { s.failure = why }
            defer { s.headWaiters = [] }
            return s.headWaiters
        }
        for w in waiters { w.resume(returning: head) }
        if case .unreachable(let why) = head { failed(why) }
    }

    func append(_ chunk: ByteBuffer) {
        let ready = state.withLockedValue { s -> [CheckedContinuation<ByteBuffer?, any Error>] in
            s.chunks.append(chunk)
            s.bytes += chunk.readableBytes
            let index = s.chunks.count - 1
            let ready = s.chunkWaiters.filter { $0.index == index }.map(\.continuation)
            s.chunkWaiters.removeAll { $0.index == index }
            return ready
        }
        for w in ready { w.resume(returning: chunk) }
    }

    func finished() {
        let waiting = state.withLockedValue { s -> [CheckedContinuation<ByteBuffer?, any Error>] in
            s.finished = true
            defer { s.chunkWaiters = [] }
            return s.chunkWaiters.map(\.continuation)
        }
        for w in waiting { w.resume(returning: nil) }
    }

    func failed(_ why: String) {
        let (heads, chunks) = state.withLockedValue { s -> ([CheckedContinuation<Head, Never>], [CheckedContinuation<ByteBuffer?, any Error>]) in
            s.failure = s.failure ?? why
            s.finished = true
            if s.head == nil { s.head = .unreachable(why) }
            defer { s.headWaiters = []; s.chunkWaiters = [] }
            return (s.headWaiters, s.chunkWaiters.map(\.continuation))
        }
        for w in heads { w.resume(returning: .unreachable(why)) }
        for w in chunks { w.resume(throwing: Failed(description: why)) }
    }
}
