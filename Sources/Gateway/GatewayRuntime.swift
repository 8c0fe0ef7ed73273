import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Pulls one adapter on its interval until shutdown. One service per adapter, so pulls of one
/// adapter never overlap and a slow source delays nobody else.
struct PullService: Service {
    let adapter: any Adapter
    let runner: PullRunner
    let doorbell: Doorbell
    let logger: Logger
    let onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)?
    /// Why pulls must wait (disk nearly full, store too large), checked before each pull.
    let capacityProblem: @Sendable () -> String?
    /// Where the outcome of each pull is kept for `status`.
    let store: SQLiteStore
    let heartbeats: Heartbeats
    let metrics: GatewayMetrics
    /// How often the loop shows it is alive while it sleeps.
    let beatPeriod: Duration

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
        // Cancelling a pull mid-way is safe: nothing is stored until its single commit.
        await cancelWhenGracefulShutdown {
            var paused = false
            while !Task.isCancelled {
                heartbeats.beat(heartbeatName)
                if let problem = capacityProblem() {
                    if !paused { logger.error("pulls paused to protect the store: \(problem)", metadata: ["adapter": "\(adapter.name)"]) }
                    paused = true
                    await sleepBeating(adapter.interval)
                    continue
                }
                if paused {
                    logger.notice("pulls resume: the store has room again", metadata: ["adapter": "\(adapter.name)"])
                    paused = false
                }
                let started = ContinuousClock.now
                do {
                    let summary = try await runner.pullOnce(adapter)
                    metrics.recordPull(adapter: adapter.name, result: .success(summary), duration: ContinuousClock.now - started)
                    logger.info("pull committed", metadata: [
                        "adapter": "\(summary.adapter)", "records": "\(summary.pulled)", "valid": "\(summary.valid)",
                        "quarantined": "\(summary.quarantined)", "reports": "\(summary.reports)",
                    ])
                    if summary.reports > 0 { doorbell.ring() }
                    try? await store.recordPullOutcome(adapter: adapter.name, at: Date(), error: nil, nextRun: Date().addingTimeInterval(adapter.interval.timeInterval))
                    onPull?(.success(summary))
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    logger.error("pull failed", metadata: ["adapter": "\(adapter.name)", "error": "\(error)"])
                    metrics.recordPull(adapter: adapter.name, result: .failure(error), duration: ContinuousClock.now - started)
                    try? await store.recordPullOutcome(adapter: adapter.name, at: Date(), error: "\(error)", nextRun: Date().addingTimeInterval(adapter.interval.timeInterval))
                    onPull?(.failure(error))
                }
                await sleepBeating(adapter.interval)
            }
        }
    }
}

/// Prunes delivered reports past the retention period, hourly. Their audit links stay, so the
/// chain still proves what was delivered when.
struct RetentionService: Service {
    let store: SQLiteStore
    let retention: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let pruned = try await store.pruneDelivered(olderThan: retention.timeInterval, now: Date())
                    if pruned > 0 { logger.info("pruned delivered reports past retention", metadata: ["reports": "\(pruned)"]) }
                } catch {
                    logger.error("pruning failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// A gateway assembled from its configuration: store, contracts, signer, adapters, forwarder.
public final class GatewayRuntime: Sendable {
    public let loaded: LoadedGateway
    public let store: SQLiteStore
    public let transport: HTTPTransport
    public let adapters: [HTTPAdapter]
    public let doorbell = Doorbell()
    public let heartbeats = Heartbeats()
    public let metrics = GatewayMetrics(version: GatewayRuntime.version)
    let breakerOpen = Mutex<Bool>.Box(false)
    /// The admin listener's port once it is bound (useful when configured as port 0).
    let boundAdminPort = Mutex<Int?>.Box(nil)
    public var adminPort: Int? { boundAdminPort.value.withLock { $0 } }

    public static let version = "0.1.0"
    let logger: Logger
    let onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)?
    let onDelivery: (@Sendable (DeliveryEvent) -> Void)?

    public init(
        loaded: LoadedGateway, logger: Logger, onPull: (@Sendable (Result<PullSummary, any Error>) -> Void)? = nil,
        onDelivery: (@Sendable (DeliveryEvent) -> Void)? = nil
    ) throws {
        self.loaded = loaded
        self.logger = logger
        self.onPull = onPull
        self.onDelivery = onDelivery
        store = try SQLiteStore(path: loaded.configuration.storePath)
        let transport = HTTPTransport()
        self.transport = transport
        adapters = loaded.adapters.map { HTTPAdapter(definition: $0, transport: transport) }
    }

    public var runner: PullRunner {
        let configuration = loaded.configuration
        return PullRunner(
            gatewayID: configuration.gatewayID, province: configuration.province, contracts: loaded.contracts,
            signer: loaded.signer, serialization: configuration.serialization,
            store: store, maxObservationsPerReport: configuration.maxObservationsPerReport)
    }

    public var forwarder: Forwarder {
        let configuration = loaded.configuration
        var forwarderConfiguration = Forwarder.Configuration(
                centralURL: configuration.centralURL, tls: configuration.centralTLS,
                authentication: configuration.centralToken.map { .bearer($0) } ?? .none, retry: configuration.retry,
                requestTimeout: configuration.requestTimeout, idlePoll: configuration.deliveryPoll,
                messageSigner: configuration.httpSignatures ? (loaded.signingKey, loaded.signer.keyID) : nil,
                breaker: configuration.breaker)
        forwarderConfiguration.receiptVerifier = configuration.receiptKeys.map { JWSVerifier(keysByID: $0) }
        forwarderConfiguration.maxConcurrent = configuration.maxConcurrent
        let (metrics, onDelivery) = (self.metrics, self.onDelivery)
        return Forwarder(
            configuration: forwarderConfiguration, store: store, transport: transport, doorbell: doorbell, logger: logger,
            events: { event in
                metrics.recordDelivery(event)
                onDelivery?(event)
            })
    }

    /// The services of a running gateway, in a group that shuts down gracefully on `signals`.
    public func makeServiceGroup(signals: [UnixSignal]) -> ServiceGroup {
        let runner = self.runner
        let store = self.store
        let (minimumFree, maximumSize) = (loaded.configuration.minimumFreeBytes, loaded.configuration.maximumStoreBytes)
        // Loops beat three times per watchdog interval (at most every 5 s), so a healthy gateway
        // always feeds it and a stuck loop starves it within one interval.
        let watchdog = SystemdNotifier.watchdogInterval()
        let beatPeriod = watchdog.map { min(.seconds(5), $0 / 3) } ?? .seconds(5)
        var services: [any Service] = adapters.map {
            PullService(adapter: $0, runner: runner, doorbell: doorbell, logger: logger, onPull: onPull,
                        capacityProblem: { store.capacityProblem(minimumFreeBytes: minimumFree, maximumBytes: maximumSize) }, store: store,
                        heartbeats: self.heartbeats, metrics: self.metrics, beatPeriod: beatPeriod)
        }
        var forwarder = self.forwarder
        let heartbeats = self.heartbeats
        forwarder.onProgress = { heartbeats.beat("forwarder") }
        let (metrics, breakerOpen) = (self.metrics, self.breakerOpen)
        forwarder.onBreakerChange = { open in
            breakerOpen.value.withLock { $0 = open }
            metrics.recordBreaker(open: open)
        }
        forwarder.configuration.idlePoll = min(forwarder.configuration.idlePoll, beatPeriod)
        services.append(forwarder)
        let settings = loaded.configuration
        services.append(AdminService(
            host: settings.adminHost, port: settings.adminPort, token: settings.adminToken, store: store, metrics: metrics,
            contractVersion: loaded.contracts.version, breakerOpen: { breakerOpen.value.withLock { $0 } }, boundPort: boundAdminPort,
            logger: logger))
        if let notifier = SystemdNotifier.fromEnvironment() {
            services.append(SystemdService(
                notifier: notifier, watchdog: watchdog, heartbeats: heartbeats,
                loops: adapters.map { "pull:\($0.name)" } + ["forwarder"],
                status: "delivering for province \(loaded.configuration.province) with \(adapters.count) adapters", logger: logger))
        }
        services.append(RetentionService(store: store, retention: loaded.configuration.retention, logger: logger))
        var configuration = ServiceGroupConfiguration(services: services.map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = loaded.configuration.shutdownTimeout
        return ServiceGroup(configuration: configuration)
    }

    /// Runs until a shutdown signal, then releases the HTTP client.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await run(group: makeServiceGroup(signals: signals))
    }

    /// Runs `group` (made by `makeServiceGroup`) until it is shut down, then releases the HTTP client.
    public func run(group: ServiceGroup) async throws {
        for warning in loaded.configuration.warnings + loaded.adapters.flatMap(\.warnings) { logger.warning("\(warning)") }
        let recovered = try await store.recoverInterruptedDeliveries(now: Date())
        if recovered > 0 { logger.notice("resuming deliveries interrupted by the last stop", metadata: ["reports": "\(recovered)"]) }
        logger.info("gateway starting", metadata: [
            "gateway_id": "\(loaded.configuration.gatewayID)", "province": "\(loaded.configuration.province)",
            "adapters": "\(adapters.map(\.name).joined(separator: ","))", "contract_version": "\(loaded.contracts.version)",
            "kid": "\(loaded.signer.keyID)", "alg": "\(loaded.signer.algorithm.rawValue)",
            "serialization": "\(loaded.configuration.serialization.rawValue)",
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
