import Foundation
import LiveGateModel

/// The thresholds `StreamHealthMonitor` judges by (`health.*` in the configuration; the
/// defaults are the documented rules). A ratio of 0 or a duration of 0 turns its rule off.
public struct HealthRules: Sendable, Equatable {
    /// Starving: no video frame for this long (a stalled or disconnected encoder).
    public var starvingNoVideoSec: Double = 2
    /// Starving: frames received per second over `windowSec` below this share of the stream's own rate.
    public var starvingFpsRatio: Double = 0.5
    /// Degraded: below this share.
    public var degradedFpsRatio: Double = 0.9
    /// The window received fps and the short bit rate are measured over.
    public var windowSec: Double = 10
    /// Degraded: a keyframe interval above this many times the session's median …
    public var keyframeMedianFactor: Double = 2
    /// … or above this many seconds.
    public var maxKeyframeIntervalSec: Double = 10
    /// Degraded: the video bit rate over `windowSec` below this share of its average over the
    /// last minute (measured once the minute has 30 s of media).
    public var bitrateDropRatio: Double = 0.5
    /// Degraded: audio and video timestamps apart by more than this (against their arrival).
    public var maxAVDriftSec: Double = 1
    /// `channel.health_changed`: at most one per channel per this many seconds; the state at
    /// the end of a burst is always sent.
    public var eventIntervalSec: Double = 30

    public init() {}

    /// Why a configured value is refused (nil: valid).
    public var problem: String? {
        for (name, value) in [("starvingNoVideoSec", starvingNoVideoSec), ("windowSec", windowSec), ("keyframeMedianFactor", keyframeMedianFactor),
                              ("maxKeyframeIntervalSec", maxKeyframeIntervalSec), ("maxAVDriftSec", maxAVDriftSec),
                              ("eventIntervalSec", eventIntervalSec)] where !(value >= 0 && value <= 3600) {
            return "health.\(name) must be between 0 and 3600"
        }
        for (name, value) in [("starvingFpsRatio", starvingFpsRatio), ("degradedFpsRatio", degradedFpsRatio), ("bitrateDropRatio", bitrateDropRatio)]
        where !(value >= 0 && value <= 1) {
            return "health.\(name) must be between 0 and 1"
        }
        if windowSec < 2 { return "health.windowSec must be at least 2" }
        return nil
    }
}
