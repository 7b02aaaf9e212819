import LiveGateModel
import ChannelStore
import Foundation
import Logging
import XCTest

/// Issue #19 item 6, the stored side, on both stores: ids written before the rule (decomposed
/// Unicode, spaces at the ends) are rewritten to NFC without the spaces, in every table that
/// holds one; two ids that would become one stop the start, naming both, and change nothing.
extension ChannelStoreConformanceTests {
    func testStoredUserIdsAreNormalisedAndCollisionsRefused() async throws {
        let store = try await makeStore()
        defer { Task { await store.close() } }
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let decomposed = "ngu\u{031B}o\u{031B}\u{0300}i\(suffix)", composed = "người\(suffix)"
        XCTAssertNotEqual(Array(decomposed.utf8), Array(composed.utf8))
        let spaced = " bob\(suffix) "
        let now = Date()
        _ = try await store.createChannel(id: "ch_d\(suffix)", streamKey: "k_d\(suffix)", fields: ChannelFields(userId: decomposed, name: "d"), now: now)
        _ = try await store.createChannel(id: "ch_s\(suffix)", streamKey: "k_s\(suffix)", fields: ChannelFields(userId: spaced, name: "s"), now: now)
        try await store.setUserLimits(userId: decomposed, UserLimits(maxChannels: 3), now: now)
        try await store.saveToken(APIToken(id: "tok_n\(suffix)", secretHash: "x", scopes: ["channels:read"], userId: spaced, origin: .api, createdAt: now))
        _ = try await store.createWebhook(id: "wh_n\(suffix)", secret: "whsec_x", fields: WebhookFields(url: "http://127.0.0.1:9/h", userIds: [decomposed, "other"]), now: now)

        let changed = try await store.normalizeStoredUserIds(logger: Logger(label: "test"))
        XCTAssertGreaterThanOrEqual(changed, 2)
        let d = try await store.channel(id: "ch_d\(suffix)"), s = try await store.channel(id: "ch_s\(suffix)")
        XCTAssertEqual(d.map { Array($0.userId.utf8) }, Array(composed.utf8), "NFC, byte for byte")
        XCTAssertEqual(s?.userId, "bob\(suffix)")
        let limits = try await store.userLimits(userId: composed)
        XCTAssertEqual(limits.maxChannels, 3, "the limits moved with the user")
        let token = try await store.token(id: "tok_n\(suffix)")
        XCTAssertEqual(token?.userId, "bob\(suffix)")
        let hook = try await store.webhook(id: "wh_n\(suffix)")
        XCTAssertEqual(hook?.userIds.map { Array($0.utf8) }, [Array(composed.utf8), Array("other".utf8)])
        let again = try await store.normalizeStoredUserIds(logger: Logger(label: "test"))
        XCTAssertEqual(again, 0, "nothing left to do")

        // Two stored users that become one: refused, naming both, nothing changed.
        _ = try await store.createChannel(id: "ch_c1\(suffix)", streamKey: "k_c1\(suffix)", fields: ChannelFields(userId: "carol\(suffix)", name: "c"), now: now)
        _ = try await store.createChannel(id: "ch_c2\(suffix)", streamKey: "k_c2\(suffix)", fields: ChannelFields(userId: "carol\(suffix)\u{3000}", name: "c"), now: now)
        do {
            try await store.normalizeStoredUserIds(logger: Logger(label: "test"))
            XCTFail("a collision must stop the start")
        } catch let collision as SQLChannelStore.UserIdCollision {
            XCTAssertTrue(collision.description.contains("\"carol\(suffix)\""), collision.description)
            XCTAssertTrue(collision.description.contains("\"carol\(suffix)\\u{3000}\""), collision.description)
        }
        let untouched = try await store.channel(id: "ch_c2\(suffix)")
        XCTAssertEqual(untouched?.userId, "carol\(suffix)\u{3000}", "nothing was changed")
    }
}
