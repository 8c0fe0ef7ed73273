import Foundation
import Gateway
import GatewayConfig
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewayJSON
import GatewayPipeline
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import Synchronization

/// The demo: mock LGSP source and mock central endpoint plus a real gateway, in one process,
/// configured through the shipped `deploy/examples/gateway.yaml` and `Adapters/` files.
public enum Demo {
    public struct Options: Sendable {
        /// PKCS#8 PEM key to sign with; an ephemeral Ed25519 key when `nil`.
        public var keyPath: String?
        /// Deliver to this central endpoint instead of the mock.
        public var centralURL: String?
        public var centralCA: String?
        /// Share of central requests the mock fails (503, 429, dropped connections, slow answers).
        public var failureRate: Double
        public var timeout: Duration
        public var repository: URL
        public var workDirectory: URL?
        /// Where the console listens (`127.0.0.1:0`: any free port); nil: no console.
        public var consoleListen: String?
        /// Called once the console answers, with its address and the one-time operator login.
        public var onConsoleReady: (@Sendable (_ url: String, _ user: String, _ password: String) -> Void)?
        /// After the summary, keep the mocks, the gateway and its console running until this returns.
        public var stayUntil: (@Sendable () async -> Void)?

        public init(
            keyPath: String? = nil, centralURL: String? = nil, centralCA: String? = nil, failureRate: Double = 0.4,
            timeout: Duration = .seconds(120), repository: URL, workDirectory: URL? = nil
        ) {
            self.keyPath = keyPath
            self.centralURL = centralURL
            self.centralCA = centralCA
            self.failureRate = failureRate
            self.timeout = timeout
            self.repository = repository
            self.workDirectory = workDirectory
        }
    }

    /// What happened, as the demo prints it; the JSON keys are part of its interface.
    public struct Summary: Sendable, Codable, Equatable {
        public var pulled = 0
        public var valid = 0
        public var quarantined = 0
        public var reportsSigned = 0
        public var deliveryAttempts = 0
        public var deliveredReports = 0
        public var deliveredObservations = 0
        public var deadLettered = 0
        public var duplicatesAtCentral = 0
        public var signatureFailuresAtCentral = 0
        public var acceptedAtCentral = 0
        /// Figures sent as a revision of one sent before (the demo corrects one at the source).
        public var revisions = 0
        /// Figures pulled again with the value the centre holds: counted, not sent.
        public var unchanged = 0
        /// Records an adapter skips by its source's code (a breakdown the province does not report).
        public var skipped = 0
        /// Pages a source failed part-way through a pull (an HTML 503 from its proxy) that were
        /// asked for again within the pull.
        public var sourcePagesRetried = 0
        /// Revisions that became current at the mock centre, and ones that arrived after a higher one.
        public var revisionsAtCentral = 0
        public var staleRevisionsAtCentral = 0
        /// The corrected figure as the centre holds it after the second pull: "KEY r2 = value".
        public var correctedFigure = ""
        /// What the reporting calendar says at the end: figures the shipped adapters are
        /// responsible for, accepted by the centre (all after their due day: the mock's periods
        /// are past), and still missing or overdue.
        public var figuresExpected = 0
        public var figuresAcceptedLate = 0
        public var figuresOverdue = 0
        public var centralIsMock = true
        public var retriesByCause: [String: Int] = [:]
        public var quarantineByRule: [String: Int] = [:]
        public var algorithm = ""
        public var keyID = ""
        public var storePath = ""
        public var elapsedMilliseconds = 0

        /// Every valid observation delivered, and every pulled record valid, quarantined, skipped
        /// or found unchanged.
        public var accountsForEveryRecord: Bool {
            deliveredObservations == valid && valid + quarantined + unchanged + skipped == pulled
        }

        enum CodingKeys: String, CodingKey {
            case pulled, valid, quarantined
            case reportsSigned = "reports_signed"
            case deliveryAttempts = "delivery_attempts"
            case deliveredReports = "delivered_reports"
            case deliveredObservations = "delivered_observations"
            case deadLettered = "dead_lettered"
            case duplicatesAtCentral = "duplicates_at_central"
            case signatureFailuresAtCentral = "signature_failures_at_central"
            case acceptedAtCentral = "accepted_observations_at_central"
            case revisions, unchanged, skipped
            case sourcePagesRetried = "source_pages_retried"
            case revisionsAtCentral = "revisions_at_central"
            case staleRevisionsAtCentral = "stale_revisions_at_central"
            case correctedFigure = "corrected_figure"
            case figuresExpected = "figures_expected"
            case figuresAcceptedLate = "figures_accepted_late"
            case figuresOverdue = "figures_overdue"
            case centralIsMock = "central_is_mock"
            case retriesByCause = "retries_by_cause"
            case quarantineByRule = "quarantine_by_rule"
            case algorithm, keyID = "kid", storePath = "store", elapsedMilliseconds = "elapsed_ms"
        }
    }

    public static func run(_ options: Options, logger: Logger) async throws -> Summary {
        let started = ContinuousClock.now
        let work =
            options.workDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)

        let key: SigningKey =
            if let keyPath = options.keyPath { try SigningKey(contentsOf: URL(fileURLWithPath: keyPath)) } else { .generate() }
        let keyPath = work.appendingPathComponent("signing-key.pem").path
        _ = FileManager.default.createFile(
            atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])

        let mocks = MockSystems.Configuration(
            directory: work.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "demo-" + UUID().uuidString),
            trustedKeys: [key.publicKey],
            // One of each failure first, so every run shows them all, then failures at random.
            faults: .init(
                scripted: options.failureRate > 0 ? [.unavailable, .tooManyRequests, .connectionReset, .slowAnswer] : [],
                failureRate: options.failureRate, slowAnswerDelay: .seconds(2), seed: UInt64.random(in: 1...UInt64.max)))

        return try await MockSystems.withRunning(mocks, logger: logger) { running in
            // The education department's proxy fails the second page once, as it does when the
            // system behind it restarts; the pull asks again rather than failing.
            if options.failureRate > 0 { running.source.education.script([(page: 2, fault: .proxyUnavailable)]) }
            let storePath = work.appendingPathComponent("gateway.sqlite").path
            // A login made for this run only: a random password, an account file in the run's directory.
            var consoleVariables: [String: String] = [:]
            let consolePassword = ConsoleAccounts.randomPassword()
            if let listen = options.consoleListen {
                let users = work.appendingPathComponent("console-users.yaml").path
                try? FileManager.default.removeItem(atPath: users)
                try ConsoleAccounts.append(
                    name: "demo", role: .operator, hash: ConsoleAccounts.hash(password: consolePassword), to: users)
                consoleVariables = ["LGSP_CONSOLE_LISTEN": listen, "LGSP_CONSOLE_USERS": users]
            }
            let environment = environment(
                for: running, repository: options.repository, keyPath: keyPath, storePath: storePath,
                overrides: [
                    "LGSP_CENTRAL_URL": options.centralURL ?? running.centralURL,
                    "LGSP_CENTRAL_CA": options.centralCA ?? running.caBundlePath,
                    // Another centre signs receipts with keys of its own, which the demo does not know.
                    "LGSP_CENTRAL_RECEIPT_KEYS": options.centralURL == nil ? running.receiptKeysPath : "",
                    "LGSP_CENTRAL_TIMEOUT": "1s", "LGSP_RETRY_BASE": "200ms", "LGSP_RETRY_CAP": "2s",
                    "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                ].merging(consoleVariables) { $1 })
            let loaded = try LoadedGateway.load(
                file: options.repository.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            let tally = TallyBox()
            let runtime = try GatewayRuntime(
                loaded: loaded, logger: logger,
                onPull: { result in
                    tally.state.withLock { if case .success(let summary) = result { $0.pulledAdapters.insert(summary.adapter) } }
                },
                onDelivery: { event in tally.state.withLock { $0.record(event) } })
            let group = runtime.makeServiceGroup(signals: [])
            let adapterCount = runtime.adapters.count

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await runtime.run(group: group) }
                tasks.addTask {
                    let deadline = ContinuousClock.now + options.timeout
                    func waitUntilDelivered() async throws {
                        while true {
                            let pulledAll = tally.state.withLock { $0.pulledAdapters.count } == adapterCount
                            let stats = try await runtime.store.outboxStats(now: Date())
                            if pulledAll && stats.undelivered == 0 { return }
                            guard ContinuousClock.now < deadline else {
                                throw MockError(
                                    "the demo did not finish within \(options.timeout): \(stats.undelivered) reports still undelivered")
                            }
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                    if options.consoleListen != nil, let onConsoleReady = options.onConsoleReady {
                        while runtime.consolePort == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                        let host = runtime.loaded.configuration.console.host ?? "127.0.0.1"
                        onConsoleReady("http://\(host):\(runtime.consolePort ?? 0)/", "demo", consolePassword)
                    }
                    try await waitUntilDelivered()
                    // The portal's department corrects a figure it had already published; the next
                    // pull sends it as a revision, and the figures it did not touch not at all.
                    if running.source.correctPortalRecord(id: correction.recordID, changes: correction.changes),
                        let portal = runtime.adapters.first(where: { $0.name == correction.adapter })
                    {
                        _ = try await runtime.runner.pullOnce(portal) { runtime.doorbell.ring() }
                        try await waitUntilDelivered()
                    }
                    if let stayUntil = options.stayUntil { await stayUntil() }
                    await group.triggerGracefulShutdown()
                }
                // The first to end decides: the watcher (done, or out of time) or the gateway (failed).
                // `waitForAll` would wait for the gateway too, which runs until it is told to stop,
                // so a demo that could deliver nothing never ended.
                do {
                    try await tasks.next()
                } catch {
                    await group.triggerGracefulShutdown()
                    tasks.cancelAll()
                    throw error
                }
                try await tasks.waitForAll()
            }

            let totals = try await runtime.store.pullTotals()
            let stats = try await runtime.store.outboxStats(now: Date())
            let central = running.central.statistics
            let calendar = try await runtime.loaded.calendar.rows(store: runtime.store, now: Date())
            var summary = Summary()
            summary.figuresExpected = calendar.reduce(0) { $0 + $1.expected }
            summary.figuresAcceptedLate = calendar.reduce(0) { $0 + $1.count(.late) }
            summary.figuresOverdue = calendar.reduce(0) { $0 + $1.overdue }
            summary.pulled = totals.pulledRecords
            summary.valid = totals.validObservations
            summary.quarantined = totals.quarantined
            summary.reportsSigned = totals.reports
            summary.deliveredReports = stats.delivered
            summary.deliveredObservations = stats.deliveredObservations
            summary.deadLettered = stats.deadLettered
            summary.revisions = totals.revisions
            summary.unchanged = totals.unchanged
            summary.skipped = totals.skipped
            summary.sourcePagesRetried = running.source.education.statistics.faultsServed
            summary.centralIsMock = options.centralURL == nil
            if summary.centralIsMock {
                summary.duplicatesAtCentral = central.duplicateObservations
                summary.signatureFailuresAtCentral = central.signatureFailures
                summary.acceptedAtCentral = central.acceptedObservations
                summary.revisionsAtCentral = central.revisions
                summary.staleRevisionsAtCentral = central.staleRevisions
                if let figure = running.central.figure(correction.key) {
                    summary.correctedFigure = "\(figure.key) r\(figure.revision) = \(SemanticRules.show(figure.value.value))"
                }
            }
            tally.state.withLock {
                summary.deliveryAttempts = $0.attempts
                summary.retriesByCause = $0.retries
            }
            for entry in try await runtime.store.quarantined(limit: 10_000) {
                for reason in entry.reasons { summary.quarantineByRule[reason.rule, default: 0] += 1 }
            }
            summary.algorithm = loaded.configuration.signing.algorithm.rawValue
            summary.keyID = key.publicKey.thumbprint
            summary.storePath = storePath
            summary.elapsedMilliseconds = Int((ContinuousClock.now - started).timeInterval * 1000)
            return summary
        }
    }

    /// The figure the demo corrects at the source between two pulls: Sơn La's share of procedures
    /// fully online in 2026-Q3, 1,540 of 1,812 becoming 1,552 of 1,812.
    static let correction = (
        adapter: "dvc-portal", recordID: "DVC-14-2026-Q3",
        changes: ["tuSo": JSONValue.number(1552), "giaTri": .number(85.65)],
        key: FigureKey(indicator: "DVC_TOAN_TRINH", province: "14", level: .province, area: "14", period: "2026-Q3")
    )

    final class TallyBox: Sendable {
        let state = Mutex(Tally())
    }

    /// The environment that points the shipped `deploy/examples/gateway.yaml` and `Adapters/`
    /// at running mocks; `overrides` win.
    public static func environment(
        for running: MockSystems.Running, repository: URL, keyPath: String, storePath: String, overrides: [String: String] = [:]
    ) -> ConfigEnvironment {
        var variables = [
            "LGSP_SOURCE_URL": running.sourceURL, "LGSP_SOURCE_CA": running.caBundlePath,
            "LGSP_CLIENT_ID": "lgsp-gateway-demo", "LGSP_CLIENT_SECRET": "file:" + running.clientSecretPath,
            // The mock telecom operator takes the source's client secret as its API key.
            "TELECOM_URL": running.sourceURL, "TELECOM_CA": running.caBundlePath, "TELECOM_API_KEY": "file:" + running.clientSecretPath,
            "BANK_URL": running.bankURL, "BANK_CA": running.caBundlePath, "BANK_CLIENT_CERT": running.clientCertificatePath,
            "BANK_CLIENT_KEY": running.clientKeyPath,
            // The education department's system takes the same secret as its login's password.
            "SGD_URL": running.sourceURL, "SGD_CA": running.caBundlePath, "SGD_PASSWORD": "file:" + running.clientSecretPath,
            "LGSP_CENTRAL_URL": running.centralURL, "LGSP_CENTRAL_CA": running.caBundlePath,
            "LGSP_CENTRAL_RECEIPT_KEYS": running.receiptKeysPath,
            "LGSP_SIGNING_KEY": keyPath, "LGSP_STORE": storePath, "LGSP_PROVINCE": "14", "LGSP_GATEWAY_ID": "demo-son-la",
            "LGSP_CONTRACTS": repository.appendingPathComponent("Contracts").path,
            "LGSP_ADAPTERS": repository.appendingPathComponent("Adapters").path,
            // The mocks fail on purpose and often; probe again quickly rather than every 30 s.
            "LGSP_BREAKER_COOLDOWN": "300ms",
            // Any free port, so several gateways can run side by side (tests, a demo beside a service).
            "LGSP_ADMIN_LISTEN": "127.0.0.1:0",
        ]
        variables.merge(overrides) { $1 }
        return ConfigEnvironment(variables: variables)
    }

    struct Tally {
        var pulledAdapters: Set<String> = []
        var attempts = 0
        var retries: [String: Int] = [:]

        mutating func record(_ event: DeliveryEvent) {
            attempts += 1
            if case .retry(_, let status, let error) = event.completion {
                let cause =
                    status.map { "HTTP \($0)" }
                    ?? (error.lowercased().contains("timeout") || error.lowercased().contains("deadline") ? "timeout" : "connection lost")
                retries[cause, default: 0] += 1
            }
        }
    }

    /// A few readable lines for the operator.
    public static func describe(_ summary: Summary) -> String {
        var lines: [String] = []
        lines.append(
            "Pulled \(summary.pulled) records from the mock provincial systems: \(summary.valid) valid, \(summary.quarantined) quarantined, \(summary.skipped) skipped."
        )
        if summary.sourcePagesRetried > 0 {
            lines.append(
                "  A source's proxy failed \(summary.sourcePagesRetried) page(s) part-way with an HTML 503; each was asked for again.")
        }
        if !summary.quarantineByRule.isEmpty {
            lines.append(
                "  Quarantined for: "
                    + summary.quarantineByRule.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        lines.append(
            "Signed \(summary.reportsSigned) reports with \(summary.algorithm) (kid \(summary.keyID)) and stored them in \(summary.storePath)."
        )
        let retried = summary.retriesByCause.values.reduce(0, +)
        let causes = summary.retriesByCause.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        lines.append(
            "Delivered \(summary.deliveredObservations) observations in \(summary.deliveredReports) reports after \(summary.deliveryAttempts) attempts"
                + (retried > 0 ? " (\(retried) retried: \(causes))." : "."))
        if summary.deadLettered > 0 { lines.append("Dead-lettered: \(summary.deadLettered) reports (see the store).") }
        if summary.revisions > 0 || summary.unchanged > 0 {
            lines.append(
                "A figure corrected at the source went as \(summary.revisions) revision(s); \(summary.unchanged) unchanged figure(s) were not sent again."
            )
        }
        if summary.figuresExpected > 0 {
            lines.append(
                "Calendar: \(summary.figuresExpected) figures expected of the province, \(summary.figuresAcceptedLate) accepted after their due day, \(summary.figuresOverdue) overdue (lgsp-gateway calendar)."
            )
        }
        if summary.centralIsMock {
            lines.append(
                "Central endpoint accepted \(summary.acceptedAtCentral) observations: \(summary.duplicatesAtCentral) duplicates, \(summary.signatureFailuresAtCentral) signature failures."
            )
            if !summary.correctedFigure.isEmpty {
                lines.append(
                    "  It holds \(summary.correctedFigure) (\(summary.revisionsAtCentral) revision(s) current, \(summary.staleRevisionsAtCentral) stale)."
                )
            }
        } else {
            lines.append("Central endpoint is external: its own counts are not known here.")
        }
        lines.append(
            summary.accountsForEveryRecord
                ? "Every pulled record was delivered, quarantined, skipped or found unchanged in \(summary.elapsedMilliseconds) ms."
                : "NOT every record was accounted for.")
        return lines.joined(separator: "\n")
    }

    /// Finds the repository (Contracts/, Adapters/, deploy/examples/) from the working directory or the executable.
    public static func locateRepository() -> URL? { RepositoryCheckout.locate() }
}
