import NIOCore
import RTMPCore
import XCTest

/// Issue #22 item 5: Enhanced-RTMP capability negotiation in `connect` (E-RTMP v2, "Enhancing
/// NetConnection connect Command"): what the client declares is read and kept; the `_result`
/// states what LiveGate takes — only to a client that declared Enhanced RTMP.
final class NegotiationTests: XCTestCase {
    typealias Script = SessionTests.ClientScript

    func connectAnswer(_ object: AMFObject) throws -> (ConnectInfo?, AMFObject) {
        var s = Script()
        s.command("connect", 1, .object(object))
        var driver = MachineDriver(decision: .accept)
        driver.feed(s.bytes)
        var out = driver.outcome.outbound
        out.moveReaderIndex(forwardBy: 1 + 2 * 1536)
        var decoder = ChunkDecoder()
        var commands: [CommandMessage] = []
        while let m = try decoder.next(&out) {
            if m.typeID == .commandAMF0 { commands.append(try CommandMessage(parsing: m, limits: .default)) }
        }
        let result = try XCTUnwrap(commands.first { $0.name == "_result" })
        return (driver.machine.connectInfo, result.commandObject.objectValue ?? AMFObject())
    }

    func testAnEnhancedClientsDeclarationIsKeptAndAnswered() throws {
        // What OBS 30+ sends (fourCcList), with the v2 maps and capsEx as FFmpeg 8 can.
        let (info, answer) = try connectAnswer([
            "app": .string("live"), "flashVer": .string("OBS-Studio/31.0"), "tcUrl": .string("rtmp://h/live"),
            "fourCcList": .strictArray([.string("av01"), .string("vp09"), .string("hvc1")]),
            "videoFourCcInfoMap": .object(["hvc1": .number(6), "*": .number(4)]),
            "audioFourCcInfoMap": .object(["Opus": .number(2)]),
            "capsEx": .number(3),
        ])
        let caps = try XCTUnwrap(info?.capabilities)
        XCTAssertEqual(caps.fourCcList, ["av01", "vp09", "hvc1"])
        XCTAssertEqual(caps.videoFourCcInfoMap, ["hvc1": 6, "*": 4])
        XCTAssertEqual(caps.audioFourCcInfoMap, ["Opus": 2])
        XCTAssertEqual(caps.capsEx, [.reconnect, .multitrack])
        XCTAssertTrue(caps.canReconnect)
        // The answer: the codecs LiveGate passes through (CanForward = 4), and capsEx.
        XCTAssertEqual(answer["fmsVer"]?.stringValue, "FMS/3,5,7,7009", "the classic properties stay")
        guard case .strictArray(let list)? = answer["fourCcList"] else { return XCTFail("\(answer)") }
        XCTAssertEqual(list.compactMap(\.stringValue), ["avc1", "hvc1", "av01", "vp09", "mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"])
        XCTAssertEqual(answer["videoFourCcInfoMap"]?["av01"]?.numberValue, 4)
        XCTAssertEqual(answer["audioFourCcInfoMap"]?["Opus"]?.numberValue, 4)
        XCTAssertNil(answer["videoFourCcInfoMap"]?["vvc1"], "VVC is counted, not carried: not claimed")
        let capsEx = Int(try XCTUnwrap(answer["capsEx"]?.numberValue))
        XCTAssertEqual(capsEx & 0x0E, 0x0E, "Multitrack, ModEx, TimestampNanoOffset")
    }

    func testAClassicClientGetsTheClassicAnswer() throws {
        let (info, answer) = try connectAnswer(["app": .string("live"), "flashVer": .string("FMLE/3.0"), "tcUrl": .string("rtmp://h/live")])
        XCTAssertNil(info?.capabilities)
        XCTAssertNil(answer["capsEx"])
        XCTAssertNil(answer["fourCcList"])
        XCTAssertEqual(answer.count, 3)
    }

    func testAHostileDeclarationIsBounded() throws {
        let many = (0..<500).map { AMFValue.string(String(format: "%04d", $0)) }
        let (info, _) = try connectAnswer([
            "app": .string("live"), "fourCcList": .strictArray(many + [.string("too long"), .number(1)]),
            "videoFourCcInfoMap": .object(AMFObject((0..<100).map { (key: "v\($0)", value: AMFValue.number(1)) })),
            "capsEx": .number(-1),
        ])
        let caps = try XCTUnwrap(info?.capabilities)
        XCTAssertEqual(caps.fourCcList.count, 32)
        XCTAssertEqual(caps.videoFourCcInfoMap.count, 32)
        XCTAssertNil(caps.capsEx, "a negative capsEx is not a set of flags")
    }
}
