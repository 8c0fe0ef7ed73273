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

    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
