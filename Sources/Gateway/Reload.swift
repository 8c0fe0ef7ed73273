import Foundation
import GatewayAdapters
import GatewayConfig
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// What a reload did.
public enum ReloadOutcome: Sendable {
    /// The new configuration runs. `needsRestart` names the settings that changed but only take
    /// effect at the next start (the old values stay in force until then).
    case applied(adapters: [String], needsRestart: [String])
    /// The new files have problems; the running configuration carries on unchanged.
    case refused(ConfigIssues)
}

extension GatewayRuntime {
    /// Reads the configuration, adapters, contracts and keys again and, when all of it is sound,
    /// replaces the running generation: pulls under way are abandoned (nothing of them was stored,
    /// and the next generation pulls again), deliveries under way finish, then the new adapters and
    /// forwarder start. Returns once the new generation runs, or refuses and changes nothing.
    public func reload() async -> ReloadOutcome {
        var fresh: LoadedGateway
        do { fresh = try reloadSource() } catch {
            logger.error(
                "reload refused: the running configuration carries on",
                metadata: [
                    "problems": "\(error.issues.map(\.description).joined(separator: "; "))"
                ])
            return .refused(error)
        }
        let running = loaded.configuration
        var needsRestart: [String] = []
        // These belong to resources that live as long as the process: keep them until a restart.
        if fresh.configuration.store.location != running.store.location {
            needsRestart.append("store.path")
            fresh.configuration.store.location = running.store.location
        }
        if (fresh.configuration.admin.host, fresh.configuration.admin.port) != (running.admin.host, running.admin.port) {
            needsRestart.append("admin.listen")
            (fresh.configuration.admin.host, fresh.configuration.admin.port) = (running.admin.host, running.admin.port)
        }
        if fresh.configuration.admin.token != running.admin.token {
            needsRestart.append("admin.token")
            fresh.configuration.admin.token = running.admin.token
        }
        // The console's listener is bound once; its accounts, timeouts and limits apply at once.
        let (freshConsole, runningConsole) = (fresh.configuration.console, running.console)
        if (freshConsole.host, freshConsole.port, freshConsole.certificatePath, freshConsole.keyPath)
            != (runningConsole.host, runningConsole.port, runningConsole.certificatePath, runningConsole.keyPath)
        {
            needsRestart.append("console.listen")
            (fresh.configuration.console.host, fresh.configuration.console.port) = (runningConsole.host, runningConsole.port)
            (fresh.configuration.console.certificatePath, fresh.configuration.console.keyPath) =
                (runningConsole.certificatePath, runningConsole.keyPath)
        }
        if fresh.configuration.shutdown.timeout != running.shutdown.timeout {
            needsRestart.append("shutdown.timeout")
            fresh.configuration.shutdown.timeout = running.shutdown.timeout
        }
        let transport = self.transport
        let adapters = fresh.adapters.map { $0.makeAdapter(transport: transport, logger: logger) }
        let (previous, number) = generations.withLock { state in
            let number = state.current.number + 1
            state.current = Generation(number: number, loaded: fresh, adapters: adapters)
            return (state.running?.group, number)
        }
        for warning in fresh.configuration.warnings + fresh.adapters.flatMap(\.warnings) { logger.warning("\(warning)") }
        if !needsRestart.isEmpty {
            logger.warning(
                "changed settings that take effect at the next restart", metadata: ["settings": "\(needsRestart.joined(separator: ","))"])
        }
        await previous?.triggerGracefulShutdown()
        // The worker starts the new generation once the old one has stopped, within the shutdown timeout.
        if await !generationStarts.wait(for: number, timeout: running.shutdown.timeout + .seconds(5)) {
            // Only when the gateway is not running its services (or is stopping): the new
            // configuration is in place and the next start uses it.
            logger.warning("the new configuration is in place but nothing runs it yet")
        }
        logger.notice(
            "configuration reloaded",
            metadata: [
                "adapters": "\(adapters.map(\.name).joined(separator: ","))", "contract_version": "\(fresh.contracts.version)",
                "kid": "\(fresh.signer.keyID)",
            ])
        return .applied(adapters: adapters.map(\.name), needsRestart: needsRestart)
    }
}

/// Tells a reload when the generation it made has started, instead of it polling for that.
final class GenerationStarts: Sendable {
    private struct State {
        var latest = 0
        var waiters: [UUID: (number: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    private let state = Mutex(State())

    /// Generation `number` runs: wakes whoever waits for it or an earlier one.
    func started(_ number: Int) {
        let woken = state.withLock { state in
            state.latest = max(state.latest, number)
            let due = state.waiters.filter { $0.value.number <= number }
            for id in due.keys { state.waiters[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Whether generation `number` started within `timeout`.
    func wait(for number: Int, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.waitUntilStarted(number)
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func waitUntilStarted(_ number: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    if state.latest >= number || Task.isCancelled { return true }
                    state.waiters[id] = (number, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}

/// Runs one generation of pull loops and forwarder after another: a reload stops the running one
/// gracefully and this starts the next, so two forwarders never deliver at once.
struct WorkerService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "WorkerService" }

    let runtime: GatewayRuntime

    func run() async throws {
        // Here rather than before the group runs: the store answers only once its own service runs.
        let recovered = try await runtime.store.recoverInterruptedDeliveries(now: Date())
        if recovered > 0 {
            runtime.logger.notice("resuming deliveries interrupted by the last stop", metadata: ["reports": "\(recovered)"])
        }
        while true {
            let (generation, group) = runtime.generations.withLock { state in
                let group = runtime.makeWorkerGroup(state.current)
                state.running = (group, state.current.number)
                state.runningLoops = state.current.adapters.map { "pull:\($0.name)" } + ["forwarder"]
                return (state.current.number, group)
            }
            runtime.generationStarts.started(generation)
            // A fresh forwarder starts with a closed breaker.
            runtime.breakerOpen.value.withLock { $0 = false }
            runtime.metrics.recordBreaker(open: false)
            do {
                try await group.run()
            } catch {
                // A generation replaced by a reload may have been cut off at the shutdown timeout.
                guard replaced(generation) else { throw error }
                runtime.logger.warning(
                    "the previous configuration's work stopped abruptly during the reload", metadata: ["error": "\(error)"])
            }
            guard replaced(generation), !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        }
    }

    private func replaced(_ generation: Int) -> Bool {
        runtime.generations.withLock { $0.current.number != generation }
    }
}

/// Reloads on SIGHUP, telling systemd (RELOADING=1, then READY=1) so `systemctl reload` waits for it.
struct ReloadService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "ReloadService" }

    let runtime: GatewayRuntime
    let notifier: SystemdNotifier?

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                runtime.logger.notice("SIGHUP: reloading the configuration")
                notifier?.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
                let outcome = await runtime.reload()
                switch outcome {
                case .applied:
                    notifier?.notify("READY=1\nSTATUS=\(runtime.statusLine)")
                case .refused(let issues):
                    notifier?.notify("READY=1\nSTATUS=reload refused (\(issues.issues.count) problems, see the log); \(runtime.statusLine)")
                }
            }
        }
    }
}
