import NIOCore
@testable import RTMPCore
import XCTest

/// PROXY protocol v1 and v2 headers (haproxy.org proxy-protocol.txt), as HAProxy and AWS NLBs
/// send them; the real HAProxy is in `ProxyProtocolTests` (LiveGateTests).
final class ProxyProtocolHeaderTests: XCTestCase {
    func parse(_ bytes: [UInt8]) -> ProxyProtocolHeader.ParseResult { ProxyProtocolHeader.parse(ByteBuffer(bytes: bytes).readableBytesView) }

    func v2(command: UInt8 = 0x21, family: UInt8, payload: [UInt8]) -> [UInt8] {
        ProxyProtocolHeader.v2Signature + [command, family, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)] + payload
    }

    func testV1TCP4TCP6AndUnknown() {
        let line = Array("PROXY TCP4 203.0.113.7 10.0.0.2 56324 1935\r\n".utf8)
        XCTAssertEqual(parse(line + [3, 0, 0]), .header(ProxyProtocolHeader(version: .v1, source: ("203.0.113.7", 56324), destination: ("10.0.0.2", 1935)),
                                                    consumed: line.count))
        let six = Array("PROXY TCP6 2001:db8::7 2001:db8::2 4000 1935\r\n".utf8)
        XCTAssertEqual(parse(six), .header(ProxyProtocolHeader(version: .v1, source: ("2001:db8::7", 4000), destination: ("2001:db8::2", 1935)), consumed: six.count))
        let unknown = Array("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".utf8)
        XCTAssertEqual(parse(unknown), .header(ProxyProtocolHeader(version: .v1, source: nil, destination: nil), consumed: unknown.count))
    }

    func testV1ArrivingByteByByteNeedsMoreUntilItsCRLF() {
        let line = Array("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n".utf8)
        for n in 1..<line.count { XCTAssertEqual(parse(Array(line.prefix(n))), .needMore, "prefix \(n)") }
        if case .header = parse(line) {} else { XCTFail("complete") }
    }

    func testMalformedV1HeadersAreRefusedWithAReason() {
        for bad in ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
                    "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
                    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
                    "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "PROXY\r\n", "PROXX TCP4\r\n"] {
            guard case .invalid(let reason) = parse(Array(bad.utf8)) else { return XCTFail("\(bad.debugDescription) must be refused") }
            XCTAssertFalse(reason.isEmpty)
        }
        XCTAssertEqual(parse(Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8)), .invalid("PROXY v1 header longer than 107 bytes"))
        XCTAssertEqual(parse(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u{01}\r\n".utf8)), .invalid("PROXY v1 header is not printable ASCII"))
    }

    func testRTMPWithoutAHeaderIsAbsent() {
        XCTAssertEqual(parse([3] + [UInt8](repeating: 0, count: 1536)), .absent)
        XCTAssertEqual(parse([]), .needMore)
    }

    func testV2IPv4IPv6LocalAndTLVs() {
        let four = v2(family: 0x11, payload: [203, 0, 113, 7, 10, 0, 0, 2, 0xdc, 0x04, 0x07, 0x8f] + [0x04, 0x00, 0x01, 0x00])
        XCTAssertEqual(parse(four + [3]), .header(ProxyProtocolHeader(version: .v2, source: ("203.0.113.7", 56324), destination: ("10.0.0.2", 1935)),
                                                  consumed: four.count), "TLVs after the addresses are skipped")
        var six = [UInt8](repeating: 0, count: 36)
        six[0] = 0x20; six[1] = 0x01; six[2] = 0x0d; six[3] = 0xb8; six[15] = 7
        six[16] = 0x20; six[17] = 0x01; six[18] = 0x0d; six[19] = 0xb8; six[31] = 2
        six[32] = 0x0f; six[33] = 0xa0; six[34] = 0x07; six[35] = 0x8f
        XCTAssertEqual(parse(v2(family: 0x21, payload: six)), .header(ProxyProtocolHeader(version: .v2, source: ("2001:db8::7", 4000),
                                                                                            destination: ("2001:db8::2", 1935)), consumed: 52))
        XCTAssertEqual(parse(v2(command: 0x20, family: 0x00, payload: [])), .header(ProxyProtocolHeader(version: .v2, source: nil, destination: nil), consumed: 16),
                       "LOCAL: the balancer's health check")
        let whole = v2(family: 0x11, payload: [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2])
        for n in 1..<whole.count { XCTAssertEqual(parse(Array(whole.prefix(n))), .needMore, "prefix \(n)") }
    }

    func testMalformedV2HeadersAreRefused() {
        XCTAssertEqual(parse(ProxyProtocolHeader.v2Signature + [0x11, 0x11, 0, 12] + [UInt8](repeating: 0, count: 12)), .invalid("PROXY v2 header with version 1"))
        XCTAssertEqual(parse(v2(command: 0x22, family: 0x11, payload: [UInt8](repeating: 0, count: 12))), .invalid("PROXY v2 header with command 2"))
        XCTAssertEqual(parse(v2(family: 0x11, payload: [1, 2, 3])), .invalid("PROXY v2 IPv4 addresses need 12 bytes, got 3"))
        XCTAssertEqual(parse(v2(family: 0x21, payload: [UInt8](repeating: 0, count: 12))), .invalid("PROXY v2 IPv6 addresses need 36 bytes, got 12"))
        if case .invalid = parse(v2(family: 0x31, payload: [UInt8](repeating: 0, count: 216))) {} else { XCTFail("UNIX sockets are not proxied") }
        XCTAssertEqual(parse(ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0xff, 0xff]), .invalid("PROXY v2 header of 65535 bytes (at most 1024 accepted)"),
                       "refused before 64 KiB are buffered")
        XCTAssertEqual(parse([0x0D, 0x0A, 0x0D, 0x0B]), .invalid("not a PROXY v2 signature"))
    }
}
