import LiveGateModel
@testable import ChannelStore
import NIOConcurrencyHelpers
import XCTest

/// The SQLite writer's lock: a publisher's session write goes before queued background writes.
final class AsyncSerialLockTests: XCTestCase {
    func testUrgentWaitersGoFirstAndEachQueueIsFIFO() async throws {
        let lock = AsyncSerialLock()
        let order = NIOLockedValueBox<[String]>([])
        await lock.lock()
        var tasks: [Task<Void, Never>] = []
        for (name, urgent) in [("a", false), ("b", false), ("U1", true), ("c", false), ("U2", true)] {
            let expected = await lock.waiting + 1
            tasks.append(Task {
                await lock.lock(urgent: urgent)
                order.withLockedValue { $0.append(name) }
                await lock.unlock()
            })
            while await lock.waiting < expected { await Task.yield() }
        }
        await lock.unlock()
        for task in tasks { await task.value }
        XCTAssertEqual(order.withLockedValue { $0 }, ["U1", "U2", "a", "b", "c"])
        let idle = await lock.waiting
        XCTAssertEqual(idle, 0)
    }
}
