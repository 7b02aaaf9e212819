import LiveGateModel
import Foundation

/// This node's stable id (docs/contract.md §7): the configured `nodeId`, or one generated on the first start
/// and kept in `DATA_DIR/node-id`. Never the host name: a recreated container gets a new host
/// name, and sessions a crashed node left open are found again by its id — under a new id they
/// would stay `live` for ever.
public struct NodeIdentity: Sendable, Equatable {
    /// The id to use.
    public var id: String
    /// Ids this node may have used before it had a stable one: the host name, when the id file
    /// was created just now (a gateway upgraded from a version that used the host name). Sessions
    /// left open under them are this node's to close.
    public var previousIds: [String]

    public static let fileName = "node-id"

    public init(id: String, previousIds: [String]) {
        self.id = id
        self.previousIds = previousIds
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Resolves the id: configured wins; else the file in `dataDirectory`; else a new id written there.
    public static func resolve(configured: String, dataDirectory: String,
                               hostName: String = ProcessInfo.processInfo.hostName) throws -> NodeIdentity {
        if !configured.isEmpty { return NodeIdentity(id: configured, previousIds: []) }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw Failure(description: "\(path): cannot read the node id file: \(error.localizedDescription)")
            }
            let stored = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard isValid(stored) else {
                throw Failure(description: "\(path): not a node id ('\(stored.prefix(40))'); fix it, or set nodeId")
            }
            return NodeIdentity(id: stored, previousIds: [])
        }
        let id = generate()
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            // Atomic: a crash mid-write leaves no half id behind.
            try (id + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw Failure(description: "\(path): cannot store the generated node id: \(error.localizedDescription)")
        }
        return NodeIdentity(id: id, previousIds: hostName.isEmpty || hostName == id ? [] : [hostName])
    }

    /// The id a node with this configuration has, without creating one: the configured id, or
    /// the one kept in `dataDirectory` (nil: none yet). For `check-config`.
    public static func existing(configured: String, dataDirectory: String) -> String? {
        if !configured.isEmpty { return configured }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let stored = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return isValid(stored) ? stored : nil
    }

    /// `node_` + 16 lowercase base-32 characters (80 random bits).
    static func generate() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        return "node_" + String((0..<16).map { _ in alphabet[Int(generator.next() % 32)] })
    }

    /// Printable, no spaces, at most 128 characters: it goes into logs, sessions and URLs.
    static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && id.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
    }
}
