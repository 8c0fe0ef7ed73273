import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import GatewayPipeline

/// Pulls one adapter on its interval until shutdown. One service per adapter, so pulls of one
/// adapter never overlap and a slow source delays nobody else.
struct PullService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "PullService(\(adapter.name))" }

    let adapter: any Adapter
    let runner: PullRunner
    let doorbell: Doorbell
    let logger: Logger
    let onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)?
    /// Why pulls must wait (disk nearly full, store too large), checked before each pull.
    let capacityProblem: @Sendable () -> String?
    /// Where the outcome of each pull is kept for `status`, and who owns the adapter's schedule.
    let store: any PullLedger & ScheduleOwnership
    let heartbeats: Heartbeats
    let metrics: GatewayMetrics
    /// How often the loop shows it is alive while it sleeps.
    let beatPeriod: Duration
    /// Seconds between looks at the store's room while pulls are paused.
    let capacityRecheck: TimeInterval = 2

    var heartbeatName: String { "pull:\(adapter.name)" }

    /// Sleeps `duration` in steps of `beatPeriod`, beating after each, so the watchdog sees a live scheduler.
    func sleepBeating(_ duration: Duration) async {
        var remaining = duration
        while remaining > .zero && !Task.isCancelled {
            let step = min(remaining, beatPeriod)
            try? await Task.sleep(for: step)
            remaining -= step
            heartbeats.beat(heartbeatName)
        }
    }

    func run() async throws {
        metrics.recordSchedule(adapter: adapter.name, interval: adapter.schedule.nominalInterval(after: Date()))
        // Cancelling a pull mid-way is safe: nothing is stored until its single commit.
        await cancelWhenGracefulShutdown {
            // Several gateways on one database: one of them runs this adapter's schedule at a time
            // (a store only one gateway uses owns them all at once).
            var waitingLogged = false
            while !Task.isCancelled {
                do {
                    try await store.withScheduleOwnership(
                        of: adapter.name,
                        whileWaiting: {
                            heartbeats.beat(heartbeatName)
                            if !waitingLogged {
                                logger.info(
                                    "another gateway runs this adapter's schedule; taking over if it stops",
                                    metadata: ["adapter": "\(adapter.name)"])
                                waitingLogged = true
                            }
                        }
                    ) { stillOwner in
                        logger.info("this gateway runs the adapter's schedule", metadata: ["adapter": "\(adapter.name)"])
                        await pullLoop(stillOwner: stillOwner)
                    }
                    if Task.isCancelled { return }
                    logger.warning(
                        "this gateway no longer holds the adapter's schedule (the database connection was lost); seeking it again",
                        metadata: ["adapter": "\(adapter.name)"])
                    waitingLogged = false
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    logger.error(
                        "cannot reach the store to own the adapter's schedule; trying again",
                        metadata: ["adapter": "\(adapter.name)", "error": "\(error)"])
                    await sleepBeating(.seconds(5))
                }
            }
        }
    }

    /// Pulls on the schedule until cancelled, or until `stillOwner` says another gateway may now
    /// run this adapter.
    private func pullLoop(stillOwner: () async -> Bool = { true }) async {
        let schedule = adapter.schedule
        var paused = false
        while !Task.isCancelled {
            heartbeats.beat(heartbeatName)
            guard await stillOwner() else { return }
            if let problem = capacityProblem() {
                if !paused { logger.error("pulls paused to protect the store: \(problem)", metadata: ["adapter": "\(adapter.name)"]) }
                paused = true
                // Look again soon rather than at the next run, which for a nightly cron is a day
                // away: the run skipped for want of room is made as soon as there is room.
                await sleepUntil(min(schedule.nextRun(after: Date()), Date().addingTimeInterval(capacityRecheck)))
                continue
            }
            if paused {
                logger.notice("pulls resume: the store has room again", metadata: ["adapter": "\(adapter.name)"])
                paused = false
            }
            guard let nextRun = await pullWithRetries(schedule) else { return }
            await sleepUntil(nextRun)
        }
    }

    /// One scheduled pull and its retries; the next run it recorded for `status`, or nil when cancelled.
    private func pullWithRetries(_ schedule: PullSchedule) async -> Date? {
        var attempt = 0
        while true {
            let started = ContinuousClock.now
            do {
                let summary = try await runner.pullOnce(adapter, whenStored: { [doorbell] in doorbell.ring() })
                metrics.recordPull(adapter: adapter.name, result: .success(summary), duration: ContinuousClock.now - started)
                logger.info(
                    "pull committed",
                    metadata: [
                        "adapter": "\(summary.adapter)", "records": "\(summary.pulled)", "valid": "\(summary.valid)",
                        "quarantined": "\(summary.quarantined)", "reports": "\(summary.reports)",
                    ])
                if summary.duplicates > 0 {
                    logger.warning(
                        "the source served records this pull had already met (pages shifted or repeated); each was reported once",
                        metadata: ["adapter": "\(summary.adapter)", "duplicates": "\(summary.duplicates)"])
                }
                let next = schedule.nextRun(after: Date())
                try? await store.recordPullOutcome(adapter: adapter.name, at: Date(), error: nil, nextRun: next)
                onPull?(.success(summary))
                return next
            } catch is CancellationError {
                return nil
            } catch {
                if Task.isCancelled { return nil }
                metrics.recordPull(adapter: adapter.name, result: .failure(error), duration: ContinuousClock.now - started)
                attempt += 1
                if attempt <= schedule.retries {
                    let delay = schedule.retryDelay(attempt: attempt)
                    logger.warning(
                        "pull failed; trying again",
                        metadata: [
                            "adapter": "\(adapter.name)", "error": "\(error)", "retry": "\(attempt) of \(schedule.retries)",
                            "in": "\(delay)",
                        ])
                    // `status` shows the failure now, not after the last retry minutes later.
                    try? await store.recordPullOutcome(
                        adapter: adapter.name, at: Date(), error: "\(error)", nextRun: Date().addingTimeInterval(delay.timeInterval))
                    await sleepBeating(delay)
                    if Task.isCancelled { return nil }
                    continue
                }
                logger.error("pull failed", metadata: ["adapter": "\(adapter.name)", "error": "\(error)"])
                let next = schedule.nextRun(after: Date())
                try? await store.recordPullOutcome(adapter: adapter.name, at: Date(), error: "\(error)", nextRun: next)
                onPull?(.failure(error))
                return next
            }
        }
    }

    func sleepUntil(_ date: Date) async {
        await sleepBeating(Duration(clampingSeconds: date.timeIntervalSinceNow))
    }
}

/// Prunes delivered reports past the retention period, hourly. Their audit links stay, so the
/// chain still proves what was delivered when.
struct RetentionService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "RetentionService" }

    let store: any StoreMaintenance
    let retention: @Sendable () -> Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let pruned = try await store.pruneDelivered(olderThan: retention().timeInterval, now: Date())
                    if pruned > 0 { logger.info("pruned delivered reports past retention", metadata: ["reports": "\(pruned)"]) }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("pruning failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// A gateway assembled from its configuration: store, contracts, signer, adapters, forwarder.
///
/// The adapters, contracts, signer and forwarder form a *generation* that a reload replaces
/// (see `reload()`); the store, the admin listener and the HTTP client live as long as the process.
public final class GatewayRuntime: Sendable {
    /// One configuration's worth of the parts a reload replaces.
    struct Generation: Sendable {
        let number: Int
        let loaded: LoadedGateway
        let adapters: [any Adapter]
    }

    struct GenerationState: Sendable {
        var current: Generation
        /// The group running the pull loops and the forwarder of the generation it was built from.
        var running: (group: ServiceGroup, number: Int)?
        /// The heartbeats of the generation running now, which may be older than `current` during a reload.
        var runningLoops: [String] = []
    }

    public let store: any GatewayStore
    public let transport: HTTPTransport
    public let doorbell = Doorbell()
    public let heartbeats = Heartbeats()
    /// The forwarder's deliveries under way, across reloads, for the watchdog and `/readyz`.
    public let deliveryWatch = DeliveryWatch()
    public let metrics = GatewayMetrics(version: GatewayRuntime.version)
    let generations: Mutex<GenerationState>
    /// Tells a reload when the worker has started the generation it made.
    let generationStarts = GenerationStarts()
    /// Reads the configuration again for a reload.
    let reloadSource: @Sendable () throws(ConfigIssues) -> LoadedGateway
    let breakerOpen = Mutex<Bool>.Box(false)
    /// The admin listener's port once it is bound (useful when configured as port 0).
    let boundAdminPort = Mutex<Int?>.Box(nil)
    public var adminPort: Int? { boundAdminPort.value.withLock { $0 } }
    /// The console's port once it is bound.
    let boundConsolePort = Mutex<Int?>.Box(nil)
    public var consolePort: Int? { boundConsolePort.value.withLock { $0 } }
    /// The calendar's last count, for the console's overview (counting is many queries; the
    /// calendar moves by days).
    let calendarSnapshot = Mutex<(at: Date, overdue: Int, dueSoon: Int)?>.Box(nil)

    public static let version = "0.1.0"
    let logger: Logger
    let onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)?
    let onDelivery: (@Sendable (DeliveryEvent) -> Void)?

    /// - Parameter environment: what `${VAR}` and `credential:` resolve against when a reload reads the files again.
    public init(
        loaded: LoadedGateway, logger: Logger, environment: ConfigEnvironment = .process,
        onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)? = nil, onDelivery: (@Sendable (DeliveryEvent) -> Void)? = nil
    ) throws {
        self.logger = logger
        self.onPull = onPull
        self.onDelivery = onDelivery
        store = try StoreLocation.open(loaded.configuration.store.location)
        let transport = HTTPTransport()
        self.transport = transport
        generations = Mutex(
            GenerationState(
                current: Generation(
                    number: 1, loaded: loaded, adapters: loaded.adapters.map { $0.makeAdapter(transport: transport, logger: logger) })))
        let file = loaded.configuration.file
        reloadSource = { () throws(ConfigIssues) -> LoadedGateway in try LoadedGateway.load(file: file, environment: environment) }
    }

    var generation: Generation { generations.withLock { $0.current } }
    /// The configuration in force (the latest one a reload accepted).
    public var loaded: LoadedGateway { generation.loaded }
    public var adapters: [any Adapter] { generation.adapters }

    public var runner: PullRunner { runner(for: loaded) }

    func runner(for loaded: LoadedGateway) -> PullRunner { loaded.pullRunner(store: store) }

    public var forwarder: Forwarder { forwarder(for: loaded) }

    func forwarder(for loaded: LoadedGateway) -> Forwarder {
        let configuration = loaded.configuration
        // Complete at init: nothing of it is set afterwards.
        let forwarderConfiguration = Forwarder.Configuration(
            centralURL: configuration.central.url, tls: configuration.central.tls,
            authentication: configuration.central.token.map { .bearer($0) } ?? .none, retry: configuration.delivery.retry,
            requestTimeout: configuration.central.timeout, idlePoll: configuration.delivery.poll,
            messageSigner: configuration.central.httpSignatures ? (loaded.signingKey, loaded.signer.keyID) : nil,
            breaker: configuration.delivery.breaker, maxConcurrent: configuration.central.maxConcurrent,
            maxReportsPerRequest: configuration.central.maxReportsPerRequest, maxBytesPerRequest: configuration.central.maxBytesPerRequest,
            receiptVerifier: configuration.central.receiptKeys.map { JWSVerifier(keysByID: $0) })
        let (metrics, onDelivery) = (self.metrics, self.onDelivery)
        return Forwarder(
            configuration: forwarderConfiguration, store: store, transport: transport, doorbell: doorbell, logger: logger,
            events: { event in
                metrics.recordDelivery(event)
                onDelivery?(event)
            }, watch: deliveryWatch)
    }

    /// How often loops beat: three times per watchdog interval (at most every 5 s), so a healthy
    /// gateway always feeds it and a stuck loop starves it within one interval.
    var beatPeriod: Duration {
        SystemdNotifier.watchdogInterval().map { min(.seconds(5), $0 / 3) } ?? .seconds(5)
    }

    /// The heartbeats the watchdog expects: one per pull loop of the running generation, and the forwarder's.
    var expectedLoops: [String] { generations.withLock { $0.runningLoops } }

    /// The pull loops and the forwarder of `generation`, in a group of their own so a reload can
    /// stop them gracefully (deliveries under way finish) without stopping the rest.
    func makeWorkerGroup(_ generation: Generation) -> ServiceGroup {
        let loaded = generation.loaded
        let runner = self.runner(for: loaded)
        let store = self.store
        let (minimumFree, maximumSize) = (loaded.configuration.store.minimumFreeBytes, loaded.configuration.store.maximumBytes)
        var forwarder = self.forwarder(for: loaded)
        let heartbeats = self.heartbeats
        forwarder.onProgress = { heartbeats.beat("forwarder") }
        let (metrics, breakerOpen) = (self.metrics, self.breakerOpen)
        forwarder.onBreakerChange = { open in
            breakerOpen.value.withLock { $0 = open }
            metrics.recordBreaker(open: open)
        }
        forwarder.configuration.idlePoll = min(forwarder.configuration.idlePoll, beatPeriod)
        // Services stop in reverse order: the pulls first, then the forwarder finishes what is under way.
        let pulls: [any Service] = generation.adapters.map {
            PullService(
                adapter: $0, runner: runner, doorbell: doorbell, logger: logger, onPull: onPull,
                capacityProblem: { store.capacityProblem(minimumFreeBytes: minimumFree, maximumBytes: maximumSize) }, store: store,
                heartbeats: heartbeats, metrics: metrics, beatPeriod: beatPeriod)
        }
        var configuration = ServiceGroupConfiguration(
            services: ([forwarder] + pulls).map { .init(service: $0) }, gracefulShutdownSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = loaded.configuration.shutdown.timeout
        return ServiceGroup(configuration: configuration)
    }

    /// The services of a running gateway, in a group that shuts down gracefully on `signals` and
    /// reloads on SIGHUP when `reloadOnHangup` is set.
    public func makeServiceGroup(signals: [UnixSignal], reloadOnHangup: Bool = false) -> ServiceGroup {
        let settings = loaded.configuration
        let notifier = SystemdNotifier.fromEnvironment()
        // The store first, so that it stops last, after every service that uses it.
        var services: [any Service] = [store, WorkerService(runtime: self)]
        let (breakerOpen, deliveryWatch) = (self.breakerOpen, self.deliveryWatch)
        services.append(
            AdminService(
                host: settings.admin.host, port: settings.admin.port, token: settings.admin.token, store: store, metrics: metrics,
                contractVersion: { self.loaded.contracts.version }, breakerOpen: { breakerOpen.value.withLock { $0 } },
                stalledDeliveries: {
                    deliveryWatch.stalled(
                        longerThan: Forwarder.Configuration.leaseDuration(forRequestTimeout: self.loaded.configuration.central.timeout))
                },
                boundPort: boundAdminPort, logger: logger))
        if let notifier {
            services.append(
                SystemdService(
                    notifier: notifier, watchdog: SystemdNotifier.watchdogInterval(), heartbeats: heartbeats,
                    loops: { self.expectedLoops }, status: { self.statusLine }, logger: logger))
        }
        if reloadOnHangup { services.append(ReloadService(runtime: self, notifier: notifier)) }
        services.append(RetentionService(store: store, retention: { self.loaded.configuration.delivery.retention }, logger: logger))
        services.append(CalendarService(runtime: self, logger: logger))
        if settings.console.isEnabled {
            services.append(ConsoleService(runtime: self, settings: settings.console, boundPort: boundConsolePort, logger: logger))
        }
        services.append(IdleMemoryService(quietPeriod: .seconds(5), logger: logger))
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = settings.shutdown.timeout
        return ServiceGroup(configuration: configuration)
    }

    /// What systemd shows as the service's status line.
    var statusLine: String {
        let loaded = self.loaded
        return
            "delivering for province \(loaded.configuration.gateway.province) with \(loaded.adapters.count) adapters, contracts \(loaded.contracts.version)"
    }

    /// Runs until a shutdown signal, then releases the HTTP client.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint], reloadOnHangup: Bool = true) async throws {
        try await run(group: makeServiceGroup(signals: signals, reloadOnHangup: reloadOnHangup))
    }

    /// Runs `group` (made by `makeServiceGroup`) until it is shut down, then releases the HTTP client.
    public func run(group: ServiceGroup) async throws {
        let loaded = self.loaded
        for warning in loaded.configuration.warnings + loaded.adapters.flatMap(\.warnings) { logger.warning("\(warning)") }
        logger.info(
            "gateway starting",
            metadata: [
                "gateway_id": "\(loaded.configuration.gateway.id)", "province": "\(loaded.configuration.gateway.province)",
                "adapters": "\(adapters.map(\.name).joined(separator: ","))", "contract_version": "\(loaded.contracts.version)",
                "kid": "\(loaded.signer.keyID)", "alg": "\(loaded.signer.algorithm.rawValue)",
                "serialization": "\(loaded.configuration.signing.serialization.rawValue)",
            ])
        do {
            try await group.run()
        } catch {
            try? await transport.shutdown()
            throw error
        }
        try await transport.shutdown()
        logger.info("gateway stopped")
    }
}

extension LoadedGateway {
    /// Pulls (and checks again) as this configuration says, into `store`: the runtime's, and a
    /// command's that reprocesses quarantined records beside it.
    public func pullRunner(store: any PullLedger & FiguresLedger) -> PullRunner {
        PullRunner(
            gatewayID: configuration.gateway.id, province: configuration.gateway.province, contracts: contracts, signer: signer,
            serialization: configuration.signing.serialization, store: store,
            maxObservationsPerReport: configuration.reports.maxObservations,
            resendUnchanged: configuration.delivery.resendUnchanged)
    }
}
