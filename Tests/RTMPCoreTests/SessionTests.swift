import NIOCore
import RTMPCore
import XCTest

/// The publish command flow, built by hand so each corner is explicit.
final class SessionTests: XCTestCase {
    /// Client-side bytes: a handshake, then messages chunked as a client would.
    struct ClientScript {
        var bytes = ByteBuffer()
        var encoder = ChunkEncoder()

        init(handshake: Bool = true) {
            if handshake {
                var hs = ClientHandshake(digest: false)
                bytes = hs.start()
                bytes.writeBytes([UInt8](repeating: 0, count: 1536)) // C2 (content is not checked)
            }
        }

        mutating func send(_ m: RTMPMessage) { encoder.write(m, into: &bytes) }

        mutating func command(_ name: String, _ txn: Double, _ object: AMFValue = .null, _ args: [AMFValue] = [], stream: UInt32 = 0) {
            send(CommandMessage(name: name, transactionID: txn, commandObject: object, arguments: args).message(chunkStreamID: 3, streamID: stream))
        }

        mutating func connectAndPublish(key: String = "KEY", app: String = "live") {
            command("connect", 1, .object(["app": .string(app), "flashVer": .string("Test/1.0"), "tcUrl": .string("rtmp://h/\(app)")]))
            command("releaseStream", 2, .null, [.string(key)])
            command("FCPublish", 3, .null, [.string(key)])
            command("createStream", 4)
            command("publish", 5, .null, [.string(key), .string("live")], stream: 1)
        }

        mutating func video(_ ts: UInt32, _ payload: [UInt8]) {
            send(RTMPMessage(chunkStreamID: 6, timestamp: ts, typeID: .video, streamID: 1, payload: ByteBuffer(bytes: payload)))
        }

        mutating func audio(_ ts: UInt32, _ payload: [UInt8]) {
            send(RTMPMessage(chunkStreamID: 4, timestamp: ts, typeID: .audio, streamID: 1, payload: ByteBuffer(bytes: payload)))
        }
    }

    /// The messages the server sent back, decoded (skipping S0S1S2).
    func serverMessages(_ outcome: MachineDriver) throws -> [RTMPMessage] {
        var out = outcome.outcome.outbound
        out.moveReaderIndex(forwardBy: 1 + 2 * 1536)
        var decoder = ChunkDecoder()
        var messages: [RTMPMessage] = []
        while let m = try decoder.next(&out) { messages.append(m) }
        return messages
    }

    func statusCodes(_ messages: [RTMPMessage]) throws -> [String] {
        try messages.filter { $0.typeID == .commandAMF0 }.map { m in
            let c = try CommandMessage(parsing: m, limits: .default)
            return c.arguments.first?["code"]?.stringValue.map { "\(c.name):\($0)" } ?? c.name
        }
    }

    func drive(_ script: ClientScript, decision: PublishDecision = .accept) -> MachineDriver {
        var driver = MachineDriver(decision: decision)
        driver.feed(script.bytes)
        return driver
    }

    func testAcceptedPublishAnswersInOrder() throws {
        var s = ClientScript()
        s.connectAndPublish()
        let d = drive(s)
        let messages = try serverMessages(d)
        XCTAssertEqual(messages.prefix(3).map(\.typeID), [.windowAcknowledgementSize, .setPeerBandwidth, .setChunkSize])
        XCTAssertEqual(messages[2].payload.getInteger(at: 0, as: UInt32.self), 4096)
        XCTAssertEqual(try statusCodes(messages), ["_result:NetConnection.Connect.Success", "_result", "_result", "_result", "onStatus:NetStream.Publish.Start"])
        XCTAssertTrue(messages.contains { $0.typeID == .userControl }, "Stream Begin")
        XCTAssertEqual(d.outcome.actions, ["handshake(plain)", "connected(live)", "authorize(live,KEY)", "publishStarted"])
    }

    func testRejectionStatusesAreSentBeforeClose() throws {
        for status in [NetStatus.error(.publishUnauthorized, "unknown stream key"), .error(.publishBadName, "already live"),
                       .error(.publishRejected, "maxConcurrentLive")] {
            var s = ClientScript()
            s.connectAndPublish()
            let d = drive(s, decision: .reject(status))
            let codes = try statusCodes(try serverMessages(d))
            XCTAssertEqual(codes.last, "onStatus:\(status.code.rawValue)")
            XCTAssertEqual(d.outcome.actions.last, "close(publish rejected: \(status.code.rawValue))")
        }
    }

    func testUnknownAppGetsConnectRejected() throws {
        var s = ClientScript()
        s.connectAndPublish(app: "vod")
        let d = drive(s)
        XCTAssertEqual(try statusCodes(try serverMessages(d)), ["_error:NetConnection.Connect.Rejected"])
        XCTAssertEqual(d.outcome.actions.last, "close(connect to unknown app 'vod' rejected)")
    }

    func testAppWithQueryAndTrailingSlashIsAccepted() throws {
        var s = ClientScript()
        s.connectAndPublish(app: "live/?token=1")
        XCTAssertTrue(drive(s).outcome.actions.contains("connected(live)"))
    }

    func testAMF3ConnectIsUnderstood() throws {
        var s = ClientScript()
        var payload = ByteBuffer(bytes: [0x00]) // AMF0 format selector of a type-17 command
        AMF0Encoder.encode([.string("connect"), .number(1)], into: &payload)
        payload.writeInteger(UInt8(0x11))
        // AMF3 anonymous dynamic object {app: "live", objectEncoding: 3}
        payload.writeBytes([0x0A, 0x0B, 0x01, 0x07] + Array("app".utf8) + [0x06, 0x09] + Array("live".utf8)
                           + [0x1D] + Array("objectEncoding".utf8) + [0x04, 0x03] + [0x01])
        s.send(RTMPMessage(chunkStreamID: 3, timestamp: 0, typeID: .commandAMF3, streamID: 0, payload: payload))
        let d = drive(s)
        XCTAssertEqual(d.outcome.actions, ["handshake(plain)", "connected(live)"])
        XCTAssertEqual(d.machine.connectInfo?.objectEncoding, 3)
        let result = try XCTUnwrap(try serverMessages(d).first { $0.typeID == .commandAMF0 })
        XCTAssertEqual(try CommandMessage(parsing: result, limits: .default).arguments.first?["objectEncoding"]?.numberValue, 3)
    }

    func testCleanUnpublishAndPing() throws {
        var s = ClientScript()
        s.connectAndPublish()
        s.send(ProtocolControl.userControl(.pingRequest(timestamp: 1234)))
        s.command("FCUnpublish", 6, .null, [.string("KEY")])
        s.command("deleteStream", 7, .null, [.number(1)])
        let d = drive(s)
        XCTAssertEqual(d.outcome.actions.filter { $0 == "unpublished" }.count, 1, "reported once")
        let messages = try serverMessages(d)
        XCTAssertTrue(messages.contains { $0.typeID == .userControl && (try? UserControlEvent(parsing: $0.payload)) == .pingResponse(timestamp: 1234) })
        XCTAssertTrue(try statusCodes(messages).contains("onStatus:NetStream.Unpublish.Success"))
    }

    func testAcknowledgementsFollowThePeersWindow() throws {
        var s = ClientScript()
        s.send(ProtocolControl.windowAcknowledgementSize(1000))
        s.connectAndPublish()
        for i in 0..<10 { s.video(UInt32(i * 40), [0x27, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 500)) }
        let d = drive(s)
        let acks = try serverMessages(d).filter { $0.typeID == .acknowledgement }
        XCTAssertGreaterThanOrEqual(acks.count, 3)
        let sequence = acks.compactMap { $0.payload.getInteger(at: 0, as: UInt32.self) }
        XCTAssertEqual(sequence, sequence.sorted())
    }

    /// A read that ends inside a chunk: the machine keeps the cut chunk in a buffer of its own,
    /// not as a slice of the read, so NIO's receive pool can reuse the read's buffer for the
    /// next read (docs/contract.md §2 "Read sizes") — and the message completes when the rest
    /// comes.
    func testTheTailOfAReadDoesNotHoldTheReadsBuffer() throws {
        var s = ClientScript()
        s.connectAndPublish()
        for i in 0..<20 { s.video(UInt32(i * 40), [0x27, 1, 0, 0, 0] + [UInt8](repeating: 7, count: 100)) }
        var cut = ClientScript(handshake: false)
        cut.encoder = s.encoder
        cut.video(800, [0x27, 1, 0, 0, 0] + [UInt8](repeating: 9, count: 100))
        var read = s.bytes
        read.writeImmutableBuffer(cut.bytes.getSlice(at: cut.bytes.readerIndex, length: 20)!)
        let rest = cut.bytes.getSlice(at: cut.bytes.readerIndex + 20, length: cut.bytes.readableBytes - 20)!

        var driver = MachineDriver()
        let before = read.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        driver.feed(read)
        XCTAssertEqual(driver.outcome.videoFrames, 20)
        XCTAssertEqual(driver.machine.bufferedInboundBytes, 20, "the cut chunk is kept")
        let after = read.withUnsafeMutableReadableBytes { UInt(bitPattern: $0.baseAddress) }
        XCTAssertEqual(before, after, "nothing but the test holds the read's buffer: writing to it copied nothing")
        driver.feed(rest)
        XCTAssertEqual(driver.outcome.videoFrames, 21, "the cut message completes")
        XCTAssertEqual(driver.machine.bufferedInboundBytes, 0)
        XCTAssertNil(driver.outcome.error)
    }

    func testAFrameInSeveralChunksReachesTheSessionAsTheChunksSlices() throws {
        // docs/contract.md §2 "Payloads in chunks": at chunk size 128, a 1,000-byte coded frame
        // is eight chunks; the session gets them as slices of the read, its header read off the
        // first. A sequence header in several chunks is joined (the session parses it whole).
        var s = ClientScript()
        s.connectAndPublish()
        let config: [UInt8] = [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE0, 0x00] + [UInt8](repeating: 0, count: 200)
        s.video(0, config)
        let picture = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        s.video(40, [0x17, 1, 0, 0, 0x21] + picture)
        var driver = MachineDriver()
        driver.keepFrames = true
        let read = s.bytes
        driver.feed(read)
        XCTAssertNil(driver.outcome.error)
        XCTAssertEqual(driver.frames.count, 2)
        let header = try XCTUnwrap(driver.frames.first)
        XCTAssertEqual(header.packetType, .sequenceHeader)
        XCTAssertTrue(header.body.isContiguous, "what the session parses is joined")
        XCTAssertEqual(Array(header.data.readableBytesView), Array(config.dropFirst(5)))
        let frame = try XCTUnwrap(driver.frames.last)
        XCTAssertEqual(frame.packetType, .codedFrames)
        XCTAssertTrue(frame.isKeyframe)
        XCTAssertEqual(frame.compositionTimeOffset, 0x21)
        XCTAssertEqual(frame.byteCount, 1000)
        XCTAssertEqual(frame.body.rest.count, 7, "the chunks after the first, not copied")
        for piece in [frame.body.head] + frame.body.rest {
            let inside = piece.withUnsafeReadableBytes { p in read.withVeryUnsafeBytes { b in p.baseAddress! >= b.baseAddress! && p.baseAddress! + p.count <= b.baseAddress! + b.count } }
            XCTAssertTrue(inside, "a piece is a slice of the read")
        }
        XCTAssertEqual(Array(frame.data.readableBytesView), picture)
        XCTAssertEqual(driver.machine.mediaBytes, UInt64(config.count + 5 + picture.count))
        // And however the reads cut it, the same frames with the same bytes.
        XCTAssertEqual(MachineDriver.verifySplits(s.bytes).mediaPayloadBytes, config.count - 5 + picture.count)
    }

    func testAReadEndingInsideAFrameDoesNotHoldTheReadsBuffer() throws {
        // The read ends on a chunk boundary inside a 1,000-byte frame: the chunks it brought are
        // kept as the frame's own bytes (the connection's `compactInbound`), not as slices that
        // would keep the read's buffer from NIO's receive pool.
        var s = ClientScript()
        s.connectAndPublish()
        var cut = ClientScript(handshake: false)
        cut.encoder = s.encoder
        let picture = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 17) }
        cut.video(0, [0x17, 1, 0, 0, 0] + picture)
        let firstChunks = 12 + 128 + 129 // the frame's first two chunks
        var read = s.bytes
        read.writeImmutableBuffer(cut.bytes.getSlice(at: cut.bytes.readerIndex, length: firstChunks)!)
        let rest = cut.bytes.getSlice(at: cut.bytes.readerIndex + firstChunks, length: cut.bytes.readableBytes - firstChunks)!

        var driver = MachineDriver()
        driver.keepFrames = true
        let before = read.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        driver.feed(read)
        XCTAssertEqual(driver.machine.bufferedInboundBytes, 256, "two chunks of the frame so far")
        let after = read.withUnsafeMutableReadableBytes { UInt(bitPattern: $0.baseAddress) }
        XCTAssertEqual(before, after, "nothing but the test holds the read's buffer: writing to it copied nothing")
        driver.feed(rest)
        XCTAssertNil(driver.outcome.error)
        let frame = try XCTUnwrap(driver.frames.last)
        XCTAssertEqual(Array(frame.data.readableBytesView), picture)
        XCTAssertTrue(frame.body.isContiguous, "completed in the frame's own buffer")
    }

    func testTimestampWrapThroughTheSession() throws {
        var s = ClientScript()
        s.connectAndPublish()
        s.video(0xFFFF_FF00, [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE0, 0x00]) // AVC sequence header (no SPS)
        for ts: UInt32 in [0xFFFF_FF00, 0xFFFF_FF28, 0xFFFF_FF50, 0x0000_0000, 0x0000_0028, 0x0000_0010] {
            s.video(ts, [0x27, 1, 0, 0, 0, 0xAA])
        }
        let d = drive(s)
        XCTAssertEqual(d.outcome.videoDTS, [0xFFFF_FF00, 0xFFFF_FF28, 0xFFFF_FF50, 0x1_0000_0000, 0x1_0000_0028, 0x1_0000_0029])
        XCTAssertEqual(d.machine.timestampRepairs, 1, "the step back from 0x28 to 0x10 is repaired, not fatal")
        XCTAssertNil(d.outcome.error)
    }

    func testMediaBeforePublishStartIsDroppedNotFatal() {
        var s = ClientScript()
        s.command("connect", 1, .object(["app": .string("live")]))
        s.video(0, [0x17, 1, 0, 0, 0])
        let d = drive(s)
        XCTAssertNil(d.outcome.error)
        XCTAssertEqual(d.machine.droppedEarlyMedia, 1)
    }

    func testPlayIsRefused() throws {
        var s = ClientScript()
        s.command("connect", 1, .object(["app": .string("live")]))
        s.command("createStream", 2)
        s.command("play", 3, .null, [.string("KEY")], stream: 1)
        let d = drive(s)
        XCTAssertEqual(try statusCodes(try serverMessages(d)).last, "onStatus:NetStream.Play.Failed")
        XCTAssertEqual(d.outcome.actions.last, "close(play requested; LiveGate is ingest-only)")
    }

    func testPublishBeforeConnectIsAProtocolError() {
        var s = ClientScript()
        s.command("publish", 5, .null, [.string("KEY")], stream: 1)
        XCTAssertEqual(drive(s).outcome.error?.kind, .command)
    }

    func testKickSendsStatusThenCloses() throws {
        var s = ClientScript()
        s.connectAndPublish()
        var d = drive(s)
        d.machine.kick(NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"))
        d.drain()
        XCTAssertEqual(try statusCodes(try serverMessages(d)).last, "onStatus:NetStream.Unpublish.Success")
        XCTAssertEqual(d.outcome.actions.last, "close(kicked: NetStream.Unpublish.Success)")
    }

    func testAggregateMessagesAreSplitIntoFrames() throws {
        var s = ClientScript()
        s.connectAndPublish()
        var agg = ByteBuffer()
        for (i, tag) in [[UInt8(0x27), 1, 0, 0, 0, 9], [0x27, 1, 0, 0, 0, 8]].enumerated() {
            agg.writeInteger(UInt8(9))
            agg.writeBytes([0, 0, UInt8(tag.count)])
            agg.writeBytes([0, 0, UInt8(100 + i * 40), 0])
            agg.writeBytes([0, 0, 0])
            agg.writeBytes(tag)
            agg.writeInteger(UInt32(11 + tag.count))
        }
        s.send(RTMPMessage(chunkStreamID: 6, timestamp: 1000, typeID: .aggregate, streamID: 1, payload: agg))
        let d = drive(s)
        XCTAssertEqual(d.outcome.videoDTS, [1000, 1040])
    }
}
