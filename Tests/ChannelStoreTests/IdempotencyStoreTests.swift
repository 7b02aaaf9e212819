import LiveGateModel
import ChannelStore
import Foundation
import XCTest

extension ChannelStoreConformanceTests {
    /// Keys expire after 24 h: the same key is then a new request.
    func testIdempotencyKeysExpireAfterADay() async throws {
        let request = IdempotentRequest(tokenId: p + "tok", key: "k", method: "POST", path: "/v1/channels", bodyHash: "h")
        let t0 = Date()
        let first = try await store.claimIdempotencyKey(request, now: t0)
        XCTAssertEqual(first, .claimed)
        let during = try await store.claimIdempotencyKey(request, now: t0.addingTimeInterval(1))
        XCTAssertEqual(during, .inProgress)
        try await store.completeIdempotencyKey(tokenId: request.tokenId, key: "k", status: 201, response: "{}")
        let replay = try await store.claimIdempotencyKey(request, now: t0.addingTimeInterval(23 * 3600))
        XCTAssertEqual(replay, .replay(status: 201, response: "{}"))
        var other = request
        other.bodyHash = "other"
        let mismatch = try await store.claimIdempotencyKey(other, now: t0.addingTimeInterval(60))
        XCTAssertEqual(mismatch, .mismatch(.body))
        var otherPath = request
        otherPath.path = "/v1/webhooks"
        let elsewhere = try await store.claimIdempotencyKey(otherPath, now: t0.addingTimeInterval(60))
        XCTAssertEqual(elsewhere, .mismatch(.operation))
        var otherToken = request
        otherToken.tokenId = p + "tok2"
        let separate = try await store.claimIdempotencyKey(otherToken, now: t0)
        XCTAssertEqual(separate, .claimed, "keys are per token")
        let later = try await store.claimIdempotencyKey(request, now: t0.addingTimeInterval(25 * 3600))
        XCTAssertEqual(later, .claimed, "expired: a new request")
        try await store.releaseIdempotencyKey(tokenId: request.tokenId, key: "k")
        let released = try await store.claimIdempotencyKey(request, now: t0.addingTimeInterval(25 * 3600))
        XCTAssertEqual(released, .claimed, "a released key can be claimed again")
    }
}
