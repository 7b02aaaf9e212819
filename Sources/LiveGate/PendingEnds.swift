import LiveGateModel
import Foundation

/// Session ends the store would not take before the process stopped (SIGTERM during a store
/// outage): kept in `DATA_DIR/pending-ends.json`, so the next start closes those sessions with
/// their true reason and time (`shutdown`, `unpublished` …) instead of `node_lost`.
struct PendingEnds: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var sessionId: String
        var reason: String
        var endedAt: Date
    }

    let path: String

    func load() -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: path),
              let entries = try? Self.decoder.decode([Entry].self, from: data) else { return [:] }
        return Dictionary(entries.map { ($0.sessionId, $0) }) { a, _ in a }
    }

    func save(_ entries: [Entry]) throws {
        if entries.isEmpty {
            try? FileManager.default.removeItem(atPath: path)
            return
        }
        try Self.encoder.encode(entries).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    func clear() { try? FileManager.default.removeItem(atPath: path) }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .millisecondsSince1970
        return e
    }()

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        return d
    }()
}
