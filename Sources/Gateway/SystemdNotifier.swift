import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// systemd's notify protocol (sd_notify(3)), spoken directly: datagrams to `$NOTIFY_SOCKET`.
public struct SystemdNotifier: Sendable {
    let socketPath: String

    /// The notifier systemd set up for this process, if any.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> SystemdNotifier? {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        return SystemdNotifier(socketPath: path)
    }

    /// Sends `state` (e.g. `READY=1`); returns whether it went out.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // A leading "@" names an abstract socket: its first byte is NUL on the wire.
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, message, message.count, 0, $0, length) }
        }
        return sent == message.count
    }

    /// CLOCK_MONOTONIC in microseconds, which systemd expects with RELOADING=1.
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`), if any.
    public static func watchdogInterval(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return .microseconds(microseconds)
    }
}

/// When each long-running loop last showed it is alive, so the watchdog is fed only while the
/// scheduler and the forwarder are making progress, not merely while the process exists.
public final class Heartbeats: Sendable {
    private let beats = Mutex<[String: ContinuousClock.Instant]>([:])

    public init() {}

    public func beat(_ name: String) { beats.withLock { $0[name] = .now } }

    /// The loops that have not beaten within `limit` (all of `expected` must have beaten once).
    public func stale(expected: [String], limit: Duration) -> [String] {
        let now = ContinuousClock.now
        return beats.withLock { beats in expected.filter { name in beats[name].map { now - $0 > limit } ?? true } }
    }
}

/// Tells systemd the gateway is ready, feeds its watchdog while the loops beat, and says when it stops.
struct SystemdService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "SystemdService" }

    let notifier: SystemdNotifier
    let watchdog: Duration?
    let heartbeats: Heartbeats
    let loops: @Sendable () -> [String]
    let status: @Sendable () -> String
    let logger: Logger

    func run() async throws {
        notifier.notify("READY=1\nSTATUS=\(status())")
        // Cancelled on shutdown, not merely told: the services after this one stop only once it
        // returns, and it may be asleep.
        await withGracefulShutdownHandler {
            guard let watchdog else {
                try? await gracefulShutdown()
                return
            }
            await cancelWhenGracefulShutdown {
                // Checked often (at most every 5 s), so a loop that had not beaten yet at start
                // costs a few seconds, not half the interval; one that has not beaten within the
                // interval starves the watchdog.
                let period = min(watchdog / 4, .seconds(5))
                while !Task.isCancelled {
                    let stale = heartbeats.stale(expected: loops(), limit: watchdog)
                    if stale.isEmpty {
                        notifier.notify("WATCHDOG=1")
                    } else {
                        logger.error(
                            "not feeding the watchdog: these loops made no progress", metadata: ["loops": "\(stale.joined(separator: ","))"]
                        )
                    }
                    try? await Task.sleep(for: period)
                }
            }
        } onGracefulShutdown: {
            notifier.notify("STOPPING=1\nSTATUS=stopping: finishing deliveries in progress")
        }
    }
}
