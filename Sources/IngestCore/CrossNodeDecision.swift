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
        // A live session whose node stopped renewing its lease: its node is lost, and its
        // publisher went with it — this publish is that publisher coming back (any publish
        // with the key is, as on one node) and continues the session while the window, counted
        // from the node's last renewal, is open; after it, the session is over.
        if lease.expiresAt < facts.now {
            if facts.reconnectWindow > 0, facts.lastRenewal.addingTimeInterval(facts.reconnectWindow) > facts.now {
                return .continueHere(replaced: false)
            }
            return .endThenRetry(reason: .nodeLost)
        }
        // A live one is taken over under `replace`.
        if facts.takeOver { return .continueHere(replaced: true) }
        // Its node is late renewing (dead, probably): wait for the lease to expire rather than
        // refuse a publisher that is coming back to a crashed node's session.
        if facts.now.timeIntervalSince(facts.lastRenewal) > facts.renewInterval + 1 {
            return .holderSilent(node: lease.nodeId, until: lease.expiresAt)
        }
        return .busy(node: lease.nodeId)
    }
}
