import Foundation
import LiveGateModel

/// The cross-node half of the publish decision table (docs/contract.md §2, §7), pure: given the
/// lease another publish of the same channel holds, end it, continue it here, or refuse. The
/// store runs it inside the transaction that holds the lease row, so of two racing publishes on
/// two nodes exactly one wins, and the accept path gains no round trip. The same-node half is
/// `ChannelLifecycle.publishRequested`.
public enum CrossNodeDecision {
    public static let rule: LeaseRule = { decide($0) }

    public static func decide(_ facts: LeaseFacts) -> LeaseVerdict {
        let lease = facts.lease
        if lease.state == .reconnecting {
            if let windowEnd = lease.windowEndsAt, windowEnd <= facts.now {
                // The window closed before its holder ended it: ended here, as the holder would have.
                return .endThenRetry(reason: lease.endReason.flatMap(OfflineReason.init(rawValue:)) ?? .connectionClosed)
            }
            // Inside the window any node continues it — also when its holder is gone (stopped
            // for a restart, or crashed): the window, not the holder's lease, decides.
            return .continueHere(replaced: false)
        }
        // A live session whose node stopped renewing its lease is over.
        if lease.expiresAt < facts.now { return .endThenRetry(reason: .nodeLost) }
        // A live one is taken over only under `replace`.
        guard facts.takeOver else { return .busy(node: lease.nodeId) }
        return .continueHere(replaced: true)
    }
}
