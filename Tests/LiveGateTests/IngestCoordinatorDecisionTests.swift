import LiveGateModel
import ChannelStore
import Foundation
import LiveGate
import Logging
import RTMPCore
import RTMPServer
import TestSupport
import XCTest

/// The coordinator's decisions against a real store, many at once: what the machine decides
/// must hold when publishes race (the reservation is taken before any await).
final class IngestCoordinatorDecisionTests: XCTestCase {
    static func request(_ key: String) -> PublishRequest {
        PublishRequest(app: "live", streamKey: key, connect: ConnectInfo(app: "live", flashVer: "FMLE/3.0"))
    }

    /// 20 simultaneous publishes of one user's 20 channels under `maxConcurrentLive: 3`: exactly
    /// 3 go live (used to be: every publish that read the count before the others' writes passed).
    func testMaxConcurrentLiveHoldsUnderTwentySimultaneousPublishes() async throws {
        let dir = try MediaTools.temporaryDirectory("concurrent-live")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        try await store.setUserLimits(userId: "u1", UserLimits(maxConcurrentLive: 3), now: Date())
        for i in 0..<20 {
            _ = try await store.createChannel(id: "ch_\(i)", streamKey: "KEY_\(i)", fields: ChannelFields(userId: "u1", name: "c\(i)"), now: Date())
        }
        let coordinator = IngestCoordinator(store: store, nodeId: "n1", dispatcher: nil, logger: Logger(label: "test"))
        let decisions = await withTaskGroup(of: PublishDecision.self) { group in
            for i in 0..<20 {
                group.addTask { await coordinator.authorize(Self.request("KEY_\(i)"), connectionID: UInt64(i + 1), remoteAddress: "10.0.0.1:1") }
            }
            return await group.reduce(into: [PublishDecision]()) { $0.append($1) }
        }
        XCTAssertEqual(decisions.filter { $0 == .accept }.count, 3)
        let refused = decisions.compactMap { if case .reject(let s) = $0 { return s } else { return nil } }
        XCTAssertEqual(refused.count, 17)
        XCTAssertTrue(refused.allSatisfy { $0.code == .publishRejected && $0.description.hasSuffix("maxConcurrentLive") }, "\(refused)")
        let live = try await store.liveChannelCount(userId: "u1", excluding: "none")
        XCTAssertEqual(live, 3, "the store agrees")
        await store.close()
    }

    /// `replace` while the first publisher of a channel is still being decided: the first is
    /// told it was replaced, the second gets the session — not `BadName`.
    func testReplaceWhileTheFirstIsStillStarting() async throws {
        let dir = try MediaTools.temporaryDirectory("replace-starting")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await StoreFactory.open(url: "", dataDir: dir.path, logger: Logger(label: "test"))
        _ = try await store.createChannel(id: "ch_r", streamKey: "KEY_r", fields: ChannelFields(userId: "u1", name: "r", duplicatePolicy: .replace), now: Date())
        let coordinator = IngestCoordinator(store: store, nodeId: "n1", dispatcher: nil, logger: Logger(label: "test"))
        async let first = coordinator.authorize(Self.request("KEY_r"), connectionID: 1, remoteAddress: "10.0.0.1:1")
        async let second = coordinator.authorize(Self.request("KEY_r"), connectionID: 2, remoteAddress: "10.0.0.2:1")
        let decisions = await [first, second]
        // Which publish the machine sees first, and whether the first's session is already
        // written when the second arrives, is the scheduler's choice: started, the first is
        // answered "replaced" (one accept); already live, it is accepted and then kicked as
        // replaced (two accepts). Never a duplicate refusal, and one session either way.
        let accepted = decisions.filter { $0 == .accept }.count
        XCTAssertTrue((1...2).contains(accepted), "\(decisions)")
        let replaced = decisions.compactMap { if case .reject(let s) = $0 { return s } else { return nil } }
        XCTAssertEqual(replaced.map(\.code), accepted == 1 ? [.unpublishSuccess] : [], "the other was replaced, not refused as a duplicate")
        let sessions = try await store.sessions(channelId: "ch_r", limit: 10, cursor: nil).items
        XCTAssertEqual(sessions.count, 1, "one session")
        await store.close()
    }
}
