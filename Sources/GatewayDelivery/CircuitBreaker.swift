import Foundation
import GatewayHTTP

/// One endpoint's circuit breaker, as a value: what the forwarder may do now, and how outcomes
/// move it. During an outage the endpoint sees one probe per cool-down instead of every report
/// retrying on its own backoff.
///
/// ```
/// closed ──(failureThreshold failures in a row)──► open ──(coolDown passes)──► half-open
///    ▲                                               ▲                           │
///    └──────────────── probe succeeds ───────────────┼───── probe fails ─────────┘
/// ```
public struct CircuitBreaker: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        public var failureThreshold: Int
        public var coolDown: Duration

        public init(failureThreshold: Int = 5, coolDown: Duration = .seconds(30)) {
            self.failureThreshold = failureThreshold
            self.coolDown = coolDown
        }
    }

    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: Date)
        /// One probe is allowed; `probing` while it is out.
        case halfOpen(probing: Bool)
    }

    public enum Permission: Sendable, Equatable {
        case proceed
        /// Only this request, as a probe; the others wait for its outcome.
        case probe
        case wait(until: Date)
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed(consecutiveFailures: 0)

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// Whether a request may go now. Asking for a probe reserves it.
    public mutating func permission(now: Date) -> Permission {
        switch state {
        case .closed: return .proceed
        case .open(let until):
            guard now >= until else { return .wait(until: until) }
            state = .halfOpen(probing: true)
            return .probe
        case .halfOpen(let probing):
            if probing { return .wait(until: now.addingTimeInterval(min(1, configuration.coolDown.timeInterval))) }
            state = .halfOpen(probing: true)
            return .probe
        }
    }

    /// A probe was reserved but nothing was sent (nothing was due): let the next one go.
    public mutating func cancelProbe() {
        if case .halfOpen(true) = state { state = .halfOpen(probing: false) }
    }

    /// The endpoint answered in a way that shows it is up (delivered, or refused for good).
    public mutating func recordSuccess() { state = .closed(consecutiveFailures: 0) }

    /// The endpoint failed (5xx, timeout, connection lost).
    public mutating func recordFailure(now: Date) {
        switch state {
        case .closed(let failures):
            state =
                failures + 1 >= configuration.failureThreshold
                ? .open(until: now.addingTimeInterval(configuration.coolDown.timeInterval)) : .closed(consecutiveFailures: failures + 1)
        case .halfOpen, .open:
            state = .open(until: now.addingTimeInterval(configuration.coolDown.timeInterval))
        }
    }

    /// A request's answer said nothing either way (429, or a credential refused: the endpoint
    /// is there but would not say whether it works). For a probe, the breaker stays open one more
    /// cool-down: left "probing", it would wait for an outcome that never comes, and no request
    /// would go again.
    public mutating func recordInconclusive(now: Date) {
        if case .halfOpen(true) = state { state = .open(until: now.addingTimeInterval(configuration.coolDown.timeInterval)) }
    }

    public var isOpen: Bool { if case .closed = state { false } else { true } }
}
