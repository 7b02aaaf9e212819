import NIOCore
import NIOEmbedded
import NIOPosix
@testable import RTMPServer
import XCTest

/// `MergedReadTimer` (docs/architecture.md "Merged reads"): every wait lasts the merge interval
/// to the interval plus the slack, and the loop's one timer fires per slack, not per wait.
final class MergedReadTimerTests: XCTestCase {
    final class Waiter: MergedReadWaiter {
        let loop: EmbeddedEventLoop
        var addedAt: [NIODeadline] = []
        var dueAt: [NIODeadline] = []
        /// Asks for the next wait from inside its read, as a connection does.
        var again = 0
        weak var timer: MergedReadTimer?
        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func wait(on timer: MergedReadTimer) {
            self.timer = timer
            addedAt.append(loop.now)
            timer.add(self)
        }

        func mergedReadDue() {
            dueAt.append(loop.now)
            if again > 0, let timer {
                again -= 1
                wait(on: timer)
            }
        }
    }

    func testEveryWaitLastsTheIntervalAndTheTimerFiresPerSlackNotPerWait() {
        let loop = EmbeddedEventLoop()
        let timer = MergedReadTimer(eventLoop: loop, delay: .milliseconds(100), slack: .milliseconds(10))
        // 1,000 connections asking one after another, a millisecond apart.
        let waiters = (0..<1000).map { _ in Waiter(loop: loop) }
        for w in waiters {
            w.wait(on: timer)
            loop.advanceTime(by: .milliseconds(1))
        }
        loop.advanceTime(by: .milliseconds(200))
        for (i, w) in waiters.enumerated() {
            guard let added = w.addedAt.first, let due = w.dueAt.first else { return XCTFail("waiter \(i) never read") }
            XCTAssertEqual(w.dueAt.count, 1, "waiter \(i) read once")
            let waited = due - added
            XCTAssertGreaterThanOrEqual(waited, .milliseconds(100), "waiter \(i) waited the interval")
            XCTAssertLessThanOrEqual(waited, .milliseconds(110), "waiter \(i) waited at most the interval and the slack")
        }
        // 1,000 waits over a second: one firing per 10 ms slack, not one per wait.
        XCTAssertLessThanOrEqual(timer.fires, 101)
        XCTAssertGreaterThanOrEqual(timer.fires, 90)
        XCTAssertEqual(timer.count, 0)
    }

    func testAWaitAskedForDuringAReadIsTheNextIntervalsNotThisFiring() {
        let loop = EmbeddedEventLoop()
        let timer = MergedReadTimer(eventLoop: loop, delay: .milliseconds(100), slack: .milliseconds(10))
        let w = Waiter(loop: loop)
        w.again = 2
        w.wait(on: timer)
        loop.advanceTime(by: .milliseconds(99))
        XCTAssertEqual(w.dueAt, [], "not before the interval")
        loop.advanceTime(by: .milliseconds(400))
        XCTAssertEqual(w.dueAt.count, 3, "three reads, each its own interval after the one before")
        for (added, due) in zip(w.addedAt, w.dueAt) { XCTAssertEqual(due - added, .milliseconds(100)) }
        XCTAssertEqual(timer.fires, 3)
    }
}

/// The server's timers (`MergedReadTimers`): one per loop of the group, and every connection on a
/// loop gets that loop's one — the sharing that makes the timer cheap.
final class MergedReadTimersTests: XCTestCase {
    func testEveryLoopOfTheGroupHasOneTimerSharedByItsConnections() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        defer { try? group.syncShutdownGracefully() }
        let timers = MergedReadTimers(group: group, delay: .milliseconds(100))
        var seen: [ObjectIdentifier: ObjectIdentifier] = [:]
        for _ in 0..<30 {
            let loop = group.next()
            let timer = try XCTUnwrap(timers.timer(for: loop), "a loop of the group has a timer")
            if let earlier = seen[ObjectIdentifier(loop)] { XCTAssertEqual(earlier, ObjectIdentifier(timer), "the same timer each time") }
            seen[ObjectIdentifier(loop)] = ObjectIdentifier(timer)
        }
        XCTAssertEqual(seen.count, 3)
        XCTAssertEqual(Set(seen.values).count, 3, "one timer per loop, not one shared by all")
        XCTAssertNil(timers.timer(for: EmbeddedEventLoop()), "a loop outside the group has none (its connection keeps its own)")
    }
}
