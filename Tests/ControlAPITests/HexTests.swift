import Crypto
import Foundation
import LiveGateModel
import XCTest

/// `Hex.lowercase` against Foundation's `%02x` (the formatting it replaced in token hashes,
/// ETags and signatures: stored token hashes and published ETags must not change).
final class HexTests: XCTestCase {
    func testEveryByteAndADigestMatchFoundationsFormatting() {
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(Hex.lowercase(all), all.map { String(format: "%02x", $0) }.joined())
        let digest = SHA256.hash(data: Data("tok-secret".utf8))
        XCTAssertEqual(Hex.lowercase(digest), digest.map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(Hex.lowercase(digest.prefix(16)).count, 32)
        XCTAssertEqual(Hex.lowercase([UInt8]()), "")
    }
}
