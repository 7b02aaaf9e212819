import NIOCore
import RTMPCore
import XCTest

final class HandshakeTests: XCTestCase {
    func c0c1(digest scheme: HandshakeDigest.Scheme?) -> ByteBuffer {
        var rng = SeededGenerator(seed: 1)
        var c1 = (0..<1536).map { _ in UInt8.random(in: 0...255, using: &rng) }
        if let scheme {
            c1.replaceSubrange(4..<8, with: [9, 0, 124, 2])
            HandshakeDigest.imprint(&c1, scheme: scheme, key: Array(HandshakeDigest.playerKey.prefix(30)))
        } else {
            c1.replaceSubrange(4..<8, with: [0, 0, 0, 0])
        }
        return ByteBuffer(bytes: [3] + c1)
    }

    func testPlainHandshakeEchoesC1() throws {
        var hs = ServerHandshake()
        var input = c0c1(digest: nil)
        let c1 = Array(input.getBytes(at: 1, length: 1536)!)
        guard case .send(var out) = try hs.next(&input) else { return XCTFail("expected S0S1S2") }
        XCTAssertEqual(out.readInteger(as: UInt8.self), 3)
        let s1 = out.readBytes(length: 1536)!
        XCTAssertEqual(out.readBytes(length: 1536)!, c1, "S2 echoes C1")
        var c2 = ByteBuffer(bytes: s1)
        XCTAssertEqual(try hs.next(&c2), .complete(kind: .plain, c2Matched: true))
    }

    func testDigestHandshakeInBothSchemesAnswersInKind() throws {
        for scheme in HandshakeDigest.Scheme.allCases {
            var hs = ServerHandshake()
            var input = c0c1(digest: scheme)
            let c1 = Array(input.getBytes(at: 1, length: 1536)!)
            let clientDigest = try XCTUnwrap(HandshakeDigest.validate(c1, key: Array(HandshakeDigest.playerKey.prefix(30))))
            XCTAssertEqual(clientDigest.scheme, scheme)
            guard case .send(var out) = try hs.next(&input) else { return XCTFail("expected S0S1S2") }
            _ = out.readInteger(as: UInt8.self)
            let s1 = out.readBytes(length: 1536)!
            let s2 = out.readBytes(length: 1536)!
            let serverDigest = try XCTUnwrap(HandshakeDigest.validate(s1, key: Array(HandshakeDigest.serverKey.prefix(36))), "S1 carries a server digest")
            XCTAssertEqual(serverDigest.scheme, scheme, "answered in the client's scheme")
            let expected = HandshakeDigest.responseSignature(for: s2[...], peerDigest: clientDigest.digest, fullKey: HandshakeDigest.serverKey)
            XCTAssertEqual(Array(s2[1504...]), expected, "S2 signed over the client digest")

            // A Flash-Player-style signed C2 matches.
            var c2 = (0..<1536).map { _ in UInt8(0x5A) }
            c2.replaceSubrange(1504..., with: HandshakeDigest.responseSignature(for: c2[...], peerDigest: serverDigest.digest, fullKey: HandshakeDigest.playerKey))
            var c2buf = ByteBuffer(bytes: c2)
            XCTAssertEqual(try hs.next(&c2buf), .complete(kind: .digest, c2Matched: true))
        }
    }

    func testLooseC2IsToleratedButReported() throws {
        var hs = ServerHandshake()
        var input = c0c1(digest: .scheme0)
        _ = try hs.next(&input)
        var junk = ByteBuffer(repeating: 0, count: 1536)
        XCTAssertEqual(try hs.next(&junk), .complete(kind: .digest, c2Matched: false))
        XCTAssertTrue(hs.isComplete)
    }

    func testNonZeroVersionWithBadDigestFallsBackToPlain() throws {
        var hs = ServerHandshake()
        var bytes = [UInt8](repeating: 7, count: 1537)
        bytes[0] = 3
        var input = ByteBuffer(bytes: bytes)
        guard case .send(var out) = try hs.next(&input) else { return XCTFail() }
        _ = out.readBytes(length: 1537)
        XCTAssertEqual(out.readBytes(length: 1536), Array(bytes[1...]), "plain answer echoes C1")
    }

    func testUnsupportedVersionIsRejectedAtOnce() {
        var hs = ServerHandshake()
        var input = ByteBuffer(bytes: [6])
        XCTAssertThrowsError(try hs.next(&input))
    }

    func testClientHandshakeCompletesAgainstServer() throws {
        var client = ClientHandshake(digest: true)
        var server = ServerHandshake()
        var toServer = client.start()
        guard case .send(var toClient) = try server.next(&toServer) else { return XCTFail() }
        let (c2, serverUsedDigest) = try XCTUnwrap(try client.next(&toClient))
        XCTAssertTrue(serverUsedDigest)
        var c2buf = c2
        XCTAssertEqual(try server.next(&c2buf), .complete(kind: .digest, c2Matched: true))
    }
}
