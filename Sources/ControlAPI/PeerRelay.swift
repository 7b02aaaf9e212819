import AsyncHTTPClient
import ChannelStore
import Foundation
import LiveGateModel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Fetches what another node holds — a channel's HLS playlist and segments, a recording —
/// from its internal endpoints, signed (`ClusterSignature`), so a player or a downloader
/// behind a round-robin balancer never meets a 404 because it reached the "wrong" node
/// (docs/contract.md §7, "Files on several nodes").
///
/// Segments never change once written: one fetch per segment however many viewers (joined
/// while it arrives, `SharedDownload`), kept `segmentLife` within `cacheBytes`. Playlists
/// change every segment: one fetch per `playlistLife` per channel. Recordings are streamed
/// through (with the caller's `Range`), never kept.
public final class PeerRelay: Sendable {
    public struct Settings: Sendable {
        /// This node (peers are asked only for what another node holds).
        public var nodeId: String
        /// The key node-to-node requests are signed with.
        public var secret: String
        public var connectTimeout: TimeAmount = .seconds(1)
        public var readTimeout: TimeAmount = .seconds(5)
        public var cacheBytes = 64 << 20
        public var segmentLife: TimeInterval = 60
        public var playlistLife: TimeInterval = 0.5
        /// How long the list of nodes (and each channel's holder) is trusted before it is read again.
        public var directoryLife: TimeInterval = 1

        public init(nodeId: String, secret: String) {
            self.nodeId = nodeId
            self.secret = secret
        }
    }

    private struct Cached {
        var download: SharedDownload
        var expires: Date
        var lastUsed: Date
    }

    private struct State {
        var cache: [String: Cached] = [:]
        var nodes: (at: Date, byId: [String: NodeRecord], byTag: [String: NodeRecord])?
        var holders: [String: (at: Date, node: String?)] = [:]
    }

    let settings: Settings
    private let store: any ChannelStore
    private let client: HTTPClient
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Fetches made, by outcome (`livegate_peer_fetches_total`).
    private let counts = NIOLockedValueBox([String: Int]())

    public init(settings: Settings, store: any ChannelStore, logger: Logger) {
        self.settings = settings
        self.store = store
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: settings.connectTimeout, read: settings.readTimeout)
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    // MARK: Who holds what

    /// The node record for `id`, from a list read at most `directoryLife` ago.
    func node(id: String) async -> NodeRecord? { await directory()?.byId[id] }

    /// The node whose segments carry `tag` in their names.
    func node(tag: String) async -> NodeRecord? { await directory()?.byTag[tag] }

    private func directory() async -> (byId: [String: NodeRecord], byTag: [String: NodeRecord])? {
        let now = Date()
        if let known = state.withLockedValue({ $0.nodes }), now.timeIntervalSince(known.at) < settings.directoryLife {
            return (known.byId, known.byTag)
        }
        guard let nodes = try? await store.nodes() else { return state.withLockedValue { $0.nodes.map { ($0.byId, $0.byTag) } } }
        let byId = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let byTag = Dictionary(nodes.map { (NodeTag.of($0.id), $0) }, uniquingKeysWith: { a, _ in a })
        state.withLockedValue { $0.nodes = (now, byId, byTag) }
        return (byId, byTag)
    }

    /// The node whose playlist of `channelId` players should see: the one holding its session's
    /// lease (live or waiting for the publisher), else the one that carried its last session
    /// (its ended playlist stays `hls.keepAfterEndSec`). Nil: no session on record.
    func hlsHolder(channelId: String) async -> String? {
        let now = Date()
        if let known = state.withLockedValue({ $0.holders[channelId] }), now.timeIntervalSince(known.at) < settings.directoryLife {
            return known.node
        }
        var holder: String?
        if let lease = try? await store.lease(channelId: channelId) {
            holder = lease.nodeId
        } else if let last = try? await store.sessions(channelId: channelId, limit: 1, cursor: nil, descending: true).items.first {
            holder = last.nodeId
        }
        state.withLockedValue { s in
            if s.holders.count > 10_000 { s.holders.removeAll() }
            s.holders[channelId] = (now, holder)
        }
        return holder
    }

    /// Whether `nodeId` answers at all (its `/healthz`, within half a second): a node whose
    /// process died refuses the connection at once. Asked before refusing a publish for a
    /// session another node holds (docs/contract.md §7): a dead holder's publisher is held, not
    /// refused. Unknown or unlisted nodes, and nodes with no address, count as alive (refused
    /// as before: the lease decides).
    public func isAlive(nodeId: String) async -> Bool {
        guard let node = await node(id: nodeId), let base = node.advertiseUrl, !base.isEmpty else { return true }
        let request = HTTPClientRequest(url: base + "/healthz")
        do {
            _ = try await client.execute(request, timeout: .milliseconds(500))
            return true
        } catch {
            return false
        }
    }

    // MARK: Fetching

    /// A segment or playlist of another node, shared by everyone asking for it meanwhile.
    func hls(node: NodeRecord, channel: String, file: String, playlist: Bool) -> SharedDownload {
        let key = node.id + "/" + channel + "/" + file
        let now = Date()
        let life = playlist ? settings.playlistLife : settings.segmentLife
        let (download, start) = state.withLockedValue { s -> (SharedDownload, Bool) in
            if let hit = s.cache[key], hit.expires > now {
                s.cache[key]?.lastUsed = now
                return (hit.download, false)
            }
            let fresh = SharedDownload()
            s.cache[key] = Cached(download: fresh, expires: now.addingTimeInterval(life), lastUsed: now)
            evict(&s, now: now)
            return (fresh, true)
        }
        if start {
            let path = "/internal/v1/hls/\(channel)/\(file)"
            Task { [self] in
                await run(download, node: node, path: path, headers: [])
                // Only a whole 200 is worth keeping: a 404 or a cut transfer is asked again.
                if case .answered(let status, _) = await download.head(), status == 200, download.isComplete { return }
                state.withLockedValue { s in
                    if s.cache[key]?.download === download { s.cache[key] = nil }
                }
            }
        }
        return download
    }

    /// Another node's answer at `path` (signed), not cached.
    func fetch(node: NodeRecord, path: String) -> SharedDownload {
        let download = SharedDownload()
        Task { [self] in await run(download, node: node, path: path, headers: []) }
        return download
    }

    /// A small JSON answer of another node's internal endpoint (its envelope's `data`); nil when
    /// it cannot be had (unreachable, not 200, not JSON). Not cached: figures change by the second.
    func json(node: NodeRecord, path: String) async -> JSONValue? {
        let download = SharedDownload()
        await run(download, node: node, path: path, headers: [])
        guard case .answered(let status, _) = await download.head(), status == 200, let body = try? await download.whole(),
              case .object(let envelope)? = JSONValue.parse(String(buffer: body)) else { return nil }
        return envelope["data"]
    }

    /// A recording's bytes from the node holding it, with the caller's range headers; streamed.
    func video(node: NodeRecord, id: String, headers: [(String, String)]) -> SharedDownload {
        let download = SharedDownload()
        Task { [self] in await run(download, node: node, path: "/internal/v1/videos/\(id)/file", headers: headers) }
        return download
    }

    private func evict(_ s: inout State, now: Date) {
        s.cache = s.cache.filter { $0.value.expires > now }
        var total = s.cache.values.reduce(0) { $0 + $1.download.bytes }
        guard total > settings.cacheBytes else { return }
        for (key, entry) in s.cache.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) where total > settings.cacheBytes {
            total -= entry.download.bytes
            s.cache[key] = nil
        }
    }

    static let passedOn: Set<String> = ["retry-after", "x-thumbnail-taken-at", "x-thumbnail-size", "content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified",
                                        "content-disposition", "cache-control"]

    private func run(_ download: SharedDownload, node: NodeRecord, path: String, headers: [(String, String)]) async {
        guard let base = node.advertiseUrl, !base.isEmpty else {
            count("no_address")
            download.answered(.unreachable("node \(node.id) advertises no address"))
            return
        }
        var request = HTTPClientRequest(url: base + path)
        for (name, value) in ClusterSignature.headers(secret: settings.secret, node: settings.nodeId, method: "GET", path: path, now: Date()) {
            request.headers.add(name: name, value: value)
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        do {
            let response = try await client.execute(request, timeout: settings.readTimeout)
            var passed: [String: String] = [:]
            for header in response.headers where Self.passedOn.contains(header.name.lowercased()) { passed[header.name.lowercased()] = header.value }
            download.answered(.answered(status: Int(response.status.code), headers: passed))
            count(response.status.code < 300 ? "ok" : String(response.status.code))
            for try await chunk in response.body { download.append(chunk) }
            download.finished()
        } catch {
            count("error")
            logger.debug("peer fetch failed", metadata: ["peer": "\(node.id)", "path": "\(path)", "error": "\(error)"])
            download.failed("\(error)")
        }
    }

    private func count(_ outcome: String) { counts.withLockedValue { $0[outcome, default: 0] += 1 } }

    /// `livegate_peer_fetches_total{outcome}` and the cache's size.
    public func prometheusText() -> String {
        var p = PrometheusText()
        p.family("livegate_peer_fetches_total", .counter, help: "Fetches of HLS files and recordings from the node holding them, by outcome (ok, an HTTP status, error).")
        for (outcome, n) in counts.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) { p.sample("livegate_peer_fetches_total", [("outcome", outcome)], Double(n)) }
        let (entries, bytes) = state.withLockedValue { s in (s.cache.count, s.cache.values.reduce(0) { $0 + $1.download.bytes }) }
        p.family("livegate_peer_cache_bytes", .gauge, help: "Bytes of other nodes' HLS files held in this node's cache.")
        p.sample("livegate_peer_cache_bytes", [], Double(bytes))
        p.family("livegate_peer_cache_entries", .gauge, help: "Other nodes' HLS files in this node's cache.")
        p.sample("livegate_peer_cache_entries", [], Double(entries))
        return p.text
    }
}
