import Foundation

extension Duration {
    /// The longest wait the gateway computes: a century. Every duration from a peer, a file or
    /// arithmetic is clamped to it, so that no value, however absurd, overflows a conversion.
    public static let longest = Duration.seconds(100 * 365 * 86_400)

    /// `seconds` as a duration, whatever the number: NaN and negatives are zero, and anything past
    /// `longest` (infinity included) is `longest`. `Duration.milliseconds(Int64(x))` traps once
    /// `x` passes `Int64.max`, which one `Retry-After` header was enough to reach.
    public init(clampingSeconds seconds: Double) {
        guard seconds > 0 else {
            self = .zero
            return
        }
        guard seconds < Duration.longest.timeInterval else {
            self = .longest
            return
        }
        let whole = seconds.rounded(.down)
        self.init(secondsComponent: Int64(whole), attosecondsComponent: Int64((seconds - whole) * 1e18))
    }

    /// Nanoseconds for APIs that take them, never trapping: a duration past about 292 years is
    /// cut to `longest`.
    var nanosecondsClamped: Int64 {
        let bounded = min(self, .longest)
        let (seconds, attoseconds) = bounded.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The shortest exact spelling in the units configuration files use: `250ms`, `30s`, `5m`,
    /// `1h`, `7d`; what an operator wrote is what an error says back.
    public var configurationText: String {
        let milliseconds = Int64((min(self, .longest).timeInterval * 1000).rounded())
        for (suffix, unit) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= unit && milliseconds % unit == 0 {
            return "\(milliseconds / unit)\(suffix)"
        }
        return "\(milliseconds)ms"
    }

    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
