import Foundation
import LiveGate
import XCTest

/// The SIGTERM promise (docs/contract.md §6: exit within 10 s) as arithmetic on the one budget
/// every part reads: no step may be given more than the promise leaves it.
final class ShutdownBudgetTests: XCTestCase {
    func testTheDefaultBudgetAddsUpUnderThePromise() {
        let budget = ShutdownBudget()
        XCTAssertTrue(budget.addsUp, "\(budget)")
        XCTAssertLessThanOrEqual(budget.settleWrites + budget.drainOutputs + budget.closeStore, budget.graceful)
        XCTAssertLessThan(budget.watchdog, ShutdownBudget.promise)
    }

    func testABudgetThatDoesNotFitIsSaidToNotAddUp() {
        var tooLong = ShutdownBudget()
        tooLong.drainOutputs = 8 // what the outputs had before the budget: 2 + 8 + 1.5 > 8.5
        XCTAssertFalse(tooLong.addsUp)
        var lateWatchdog = ShutdownBudget()
        lateWatchdog.watchdog = 10
        XCTAssertFalse(lateWatchdog.addsUp)
    }
}
