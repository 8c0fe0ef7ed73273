import Synchronization

/// The deliveries under way and when each began, so that the watchdog and `/readyz` can tell a
/// forwarder that turns its loop from one whose requests make no progress.
///
/// Every request has a deadline on its whole exchange, so an attempt that outlives
/// `Forwarder.Configuration.stallLimit` means a wait somewhere is unbounded: a defect to be seen
/// (and, under systemd, restarted out of by the watchdog), not a condition to wait out.
public final class DeliveryWatch: Sendable {
    private struct State {
        var nextID = 0
        var started: [Int: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Notes an attempt beginning; give the answer to `end` when it is over.
    func begin(at now: ContinuousClock.Instant = .now) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.started[state.nextID] = now
            return state.nextID
        }
    }

    func end(_ attempt: Int) {
        _ = state.withLock { $0.started.removeValue(forKey: attempt) }
    }

    /// How many attempts have been under way for longer than `limit`.
    public func stalled(longerThan limit: Duration, now: ContinuousClock.Instant = .now) -> Int {
        state.withLock { state in state.started.values.count { now - $0 > limit } }
    }
}
