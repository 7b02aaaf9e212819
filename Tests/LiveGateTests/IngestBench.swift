import ChannelStore
import IngestCore
import Foundation
import LiveGate
import LiveGateModel
import Logging
import NIOConcurrencyHelpers
import struct NIOCore.ByteBuffer
import RTMPCore
import RTMPServer
import ServiceLifecycle
import TestSupport
import XCTest

/// The real `IngestCoordinator` on a real store, driven in-process on a manual clock: publishes
/// are `authorize` calls, publishers are `IngestSession.detached` sessions whose kicks are
/// recorded, and time passes only when a test moves the clock and ticks. What a process test
/// learns by waiting seconds for a window, a cooldown or a lease to run out, this learns in
/// milliseconds (docs/architecture.md, "Habits": time is an input).
final class IngestBench: @unchecked Sendable {
    /// The store as the tests read it (the nodes may see it through `flaky`).
    let store: SQLChannelStore
    /// Set: the nodes reach the store through it, and a test can take it down.
    let flaky: FlakyIngestStore?
    let wall: ManualWallClock
    let dir: URL
    private(set) var nodes: [String: Node] = [:]
    let kicks = NIOLockedValueBox<[(connection: UInt64, status: NetStatus, reason: IngestEndReason)]>([])

    /// One gateway node: its coordinator and the task running it.
    final class Node: @unchecked Sendable {
        let id: String
        let coordinator: IngestCoordinator
        /// The coordinator runs as the gateway runs it, a service of a group: `stop()` is the
        /// graceful stop a SIGTERM gives it.
        let group: ServiceGroup
        let task: Task<Void, any Error>
        var sessions: [UInt64: IngestSession] = [:]
        init(id: String, coordinator: IngestCoordinator) {
            self.id = id
            self.coordinator = coordinator
            group = ServiceGroup(configuration: .init(services: [.init(service: coordinator)], logger: Logger(label: "bench.\(id).group")))
            task = Task { [group] in try await group.run() }
        }

        /// Stops the node as SIGTERM does (the listener lets its publishers go first: `end`
        /// them with `.shutdown` before) and waits for its coordinator's stop to finish.
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = await task.result
        }
    }

    /// A store (SQLite in a temporary directory, or the PostgreSQL of `LIVEGATE_TEST_POSTGRES_URL`
    /// when `postgres` is set) and one node `n1`.
    init(_ name: String, postgres: Bool = false, flaky: Bool = false, lifecycle: ChannelLifecycle.Configuration = .init()) async throws {
        dir = try MediaTools.temporaryDirectory("bench-\(name)")
        wall = ManualWallClock()
        if postgres {
            guard let url = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"] else { throw XCTSkip("no PostgreSQL") }
            store = try await StoreFactory.open(url: url, dataDir: dir.path, logger: Logger(label: "bench.store"))
        } else {
            store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "bench.store"))
        }
        self.flaky = flaky ? FlakyIngestStore(store) : nil
        addNode("n1", lifecycle: lifecycle)
    }

    @discardableResult
    func addNode(_ id: String, lifecycle: ChannelLifecycle.Configuration = .init()) -> Node {
        var logger = Logger(label: "bench.\(id)")
        logger.logLevel = .warning
        let node = Node(id: id, coordinator: IngestCoordinator(store: flaky.map { $0 as any IngestStore } ?? store, nodeId: id, dispatcher: nil, lifecycle: lifecycle,
                                                               clock: .manual(wall), logger: logger))
        nodes[id] = node
        return node
    }

    func node(_ id: String = "n1") -> Node { nodes[id]! }

    func close() async {
        for node in nodes.values { node.task.cancel() }
        for node in nodes.values { _ = await node.task.result }
        await store.close()
        try? FileManager.default.removeItem(at: dir)
    }

    @discardableResult
    func channel(_ name: String, key: String, user: String = "u1", window: Int = 10, policy: Channel.DuplicatePolicy = .reject) async throws -> Channel {
        try await store.createChannel(id: "ch_\(name)", streamKey: key,
                                      fields: ChannelFields(userId: user, name: name, reconnectWindowSec: window, duplicatePolicy: policy), now: wall.now())
    }

    /// A publish of `key` on connection `connection`: the coordinator's answer.
    func publish(_ key: String, connection: UInt64, on nodeId: String = "n1", remote: String = "10.0.0.1:5000") async -> PublishDecision {
        await node(nodeId).coordinator.authorize(PublishRequest(app: "live", streamKey: key, connect: ConnectInfo(app: "live", flashVer: "FMLE/3.0")),
                                                 connectionID: connection, remoteAddress: remote)
    }

    /// The accepted publisher answered `Publish.Start` (as the listener reports it).
    func start(_ connection: UInt64, key: String, on nodeId: String = "n1", remote: String = "10.0.0.1:5000") async {
        let node = node(nodeId)
        let session = IngestSession.detached(connectionID: connection,
                                             request: PublishRequest(app: "live", streamKey: key, connect: ConnectInfo(app: "live", flashVer: "FMLE/3.0")),
                                             remoteAddress: remote) { [kicks] status, reason in
            kicks.withLockedValue { $0.append((connection, status, reason)) }
        }
        node.sessions[connection] = session
        node.coordinator.publishStarted(session)
        await node.coordinator.processed()
    }

    /// Publish and start at once; fails the test unless accepted.
    func goLive(_ key: String, connection: UInt64, on nodeId: String = "n1", file: StaticString = #filePath, line: UInt = #line) async {
        let decision = await publish(key, connection: connection, on: nodeId)
        XCTAssertEqual(decision, .accept, "publish of \(key) on connection \(connection)", file: file, line: line)
        await start(connection, key: key, on: nodeId)
    }

    /// The publisher sends `bytes` of video (one frame), as the listener counts it.
    func send(_ connection: UInt64, bytes: Int, on nodeId: String = "n1") {
        guard let session = node(nodeId).sessions[connection] else { return XCTFail("connection \(connection) never started") }
        let frame = MediaFrame(kind: .video, codec: .h264, packetType: .codedFrames, isKeyframe: false, dts: 0, data: ByteBuffer())
        session.received(frame, bytes: bytes)
    }

    /// The publisher's connection ended (as the listener reports it).
    func end(_ connection: UInt64, _ reason: IngestEndReason, on nodeId: String = "n1") async {
        let node = node(nodeId)
        guard let session = node.sessions.removeValue(forKey: connection) else { return XCTFail("connection \(connection) never started") }
        node.coordinator.publishEnded(session, reason: reason, stats: IngestSessionStats())
        await node.coordinator.processed()
    }

    /// Moves the clock, then lets every node's machines see the new time.
    func advance(_ seconds: TimeInterval, keepLeases: [String] = []) async {
        wall.advance(by: seconds)
        for id in nodes.keys.sorted() { await nodes[id]!.coordinator.tick() }
        for id in keepLeases { await nodes[id]!.coordinator.keepLeases() }
    }

    /// Every event of `type` recorded so far, oldest first.
    func events(_ type: String? = nil, channel: String? = nil) async throws -> [StoredEvent] {
        try await store.events(EventQuery(types: type.map { [$0] } ?? [], channelId: channel, limit: 500)).items
    }

    func types(channel: String) async throws -> [String] {
        try await events(channel: channel).map(\.type)
    }

    func kicked(_ connection: UInt64) -> [(status: NetStatus, reason: IngestEndReason)] {
        kicks.withLockedValue { $0.filter { $0.connection == connection }.map { ($0.status, $0.reason) } }
    }
}

extension IngestBench {
    /// The channel's latest session.
    func lastSession(_ channelId: String) async throws -> SessionRecord? {
        try await store.sessions(channelId: channelId, limit: 1, cursor: nil, descending: true).items.first
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? { objectValue?[key] }
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}

extension StoredEvent {
    /// The event's `data` object.
    var data: JSONValue { payload["data"] ?? .null }
}
