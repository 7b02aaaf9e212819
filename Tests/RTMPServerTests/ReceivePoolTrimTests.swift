import CMalloc
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest
@testable import RTMPServer

/// The receive pool gives back what a connection no longer needs (docs/architecture.md "Memory
/// per publisher"): the schedule on an injected clock, and the trim itself on real sockets —
/// pools grown by a burst whose buffers were held, then trimmed, measured as the heap in use.
final class ReceivePoolTrimTests: XCTestCase {
    let t0 = NIODeadline.uptimeNanoseconds(5_000_000_000)

    func testATrimIsDueAtMostOncePerIntervalAndNotAtTheFirstRead() {
        var trim = ReceivePoolTrim()
        XCTAssertFalse(trim.due(at: t0), "the first read cycle starts the interval")
        XCTAssertFalse(trim.due(at: t0 + .milliseconds(999)))
        XCTAssertTrue(trim.due(at: t0 + .seconds(1)))
        XCTAssertFalse(trim.due(at: t0 + .milliseconds(1500)), "a new interval from the trim")
        XCTAssertFalse(trim.due(at: t0 + .milliseconds(1999)))
        XCTAssertTrue(trim.due(at: t0 + .seconds(2)))
        XCTAssertTrue(trim.due(at: t0 + .seconds(60)), "after a long quiet, at the next read cycle")
        XCTAssertFalse(trim.due(at: t0 + .milliseconds(60_100)))
    }

    /// Holds every read buffer until told to let go: what a connection's first seconds do to
    /// the pool, exaggerated (64 KiB buffers, sixteen held at once).
    final class Holder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var held: [ByteBuffer] = []
        var received = 0
        let done: EventLoopPromise<Void>
        let expected: Int
        init(expected: Int, done: EventLoopPromise<Void>) {
            self.expected = expected
            self.done = done
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received += buffer.readableBytes
            held.append(buffer)
            if received >= expected { done.succeed(()) }
        }
    }

    func testTrimmingFreesTheBuffersAPoolKeptAfterABurst() throws {
        let connections = 24, burst = 16 * 64 * 1024
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let holders = NIOLockedValueBox<[(Channel, Holder)]>([])
        let server = try ServerBootstrap(group: group)
            .childChannelOption(.maxMessagesPerRead, value: ReceivePoolTrim.maxMessagesPerRead)
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 1024))
            .childChannelInitializer { channel in
                let holder = Holder(expected: burst, done: channel.eventLoop.makePromise())
                holders.withLockedValue { $0.append((channel, holder)) }
                return channel.pipeline.addHandler(holder)
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)

        let baseline = livegate_heap_in_use()
        var clients: [Channel] = []
        defer { for c in clients { try? c.close().wait() } }
        for _ in 0..<connections {
            let client = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()
            try client.writeAndFlush(ByteBuffer(repeating: 0x42, count: burst)).wait()
            clients.append(client)
        }
        let accepted = holders.withLockedValue { $0 }
        XCTAssertEqual(accepted.count, connections)
        for (_, holder) in accepted { try holder.done.futureResult.wait() }

        // Every buffer is let go of: the pools keep theirs.
        for (channel, holder) in accepted { try channel.eventLoop.submit { holder.held = [] }.wait() }
        let kept = Int(livegate_heap_in_use()) - Int(baseline)
        XCTAssertGreaterThan(kept, connections * 12 * 64 * 1024,
                             "the premise: NIO's pools keep the buffers of the burst (\(kept / 1024) KiB for \(connections) connections)")

        for (channel, _) in accepted {
            try channel.eventLoop.submit { ReceivePoolTrim.apply(to: try XCTUnwrap(channel.syncOptions)) }.wait()
        }
        let after = Int(livegate_heap_in_use()) - Int(baseline)
        XCTAssertLessThan(after, connections * 3 * 64 * 1024,
                          "one buffer a connection is kept: \(kept / 1024) KiB before the trim, \(after / 1024) KiB after")
        for (channel, _) in accepted {
            let reads = try channel.eventLoop.submit { try channel.syncOptions?.getOption(ChannelOptions.maxMessagesPerRead) }.wait()
            XCTAssertEqual(reads, ReceivePoolTrim.maxMessagesPerRead, "reads per wake-up restored")
        }
    }
}
