import Foundation
import GatewayContracts
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import GatewayJSON

/// Sends stored reports to the central endpoint, up to `maxConcurrent` requests at a time, until shut down.
///
/// Delivery is at-least-once: a report is leased, sent, then marked. A crash between sending and
/// marking leaves the lease to expire and the report to be sent again with the same
/// `Idempotency-Key`, which the centre answers with 200/409, counted as delivered.
public struct Forwarder: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    public var description: String { "Forwarder" }

    public struct Configuration: Sendable {
        /// The central endpoint's base URL; reports go to `{url}/v1/reports`.
        public var centralURL: String
        public var tls: EndpointTLS
        public var authentication: Authentication
        public var retry: RetryPolicy
        public var requestTimeout: Duration
        /// Longer than any request can take, so a live lease never expires under a running attempt.
        public var leaseDuration: Duration
        /// How long to sleep when nothing is due and nobody rings.
        public var idlePoll: Duration
        /// How many reports one lease takes at most, unless the requests free to start would carry more.
        public var batchSize: Int
        /// Reports per request: 1 sends each to `/v1/reports`; more sends up to this many together
        /// to `/v1/reports/batch`, for a centre that accepts batches.
        public var maxReportsPerRequest: Int
        /// A batch request's body stays under this (a larger report goes alone).
        public var maxBytesPerRequest: Int
        /// Also sign each request (RFC 9421) with this key under this `keyid`.
        public var messageSigner: (key: SigningKey, keyID: String)?
        public var breaker: CircuitBreaker.Configuration
        /// How many deliveries may be under way at once.
        public var maxConcurrent: Int
        /// The centre's receipt keys: when set, signed receipts are verified before they are kept as
        /// proof, and a report whose receipt does not verify becomes a dead letter for an operator.
        public var receiptVerifier: JWSVerifier?

        /// An attempt under way longer than this is stalled: the watchdog is no longer fed and
        /// `/readyz` says so. Each request's own deadline is `requestTimeout`, so only a wait
        /// that escaped every deadline gets here.
        public var stallLimit: Duration { leaseDuration }

        /// Twice the request's deadline and ten seconds for recording its outcome.
        public static func leaseDuration(forRequestTimeout requestTimeout: Duration) -> Duration { requestTimeout * 2 + .seconds(10) }

        public init(
            centralURL: String, tls: EndpointTLS, authentication: Authentication = .none, retry: RetryPolicy = .init(),
            requestTimeout: Duration = .seconds(30), leaseDuration: Duration? = nil, idlePoll: Duration = .seconds(5),
            batchSize: Int = 32, messageSigner: (key: SigningKey, keyID: String)? = nil, breaker: CircuitBreaker.Configuration = .init(),
            maxConcurrent: Int = 4, maxReportsPerRequest: Int = 1, maxBytesPerRequest: Int = 8 << 20, receiptVerifier: JWSVerifier? = nil
        ) {
            self.messageSigner = messageSigner
            self.breaker = breaker
            self.maxConcurrent = maxConcurrent
            self.maxReportsPerRequest = maxReportsPerRequest
            self.maxBytesPerRequest = maxBytesPerRequest
            self.receiptVerifier = receiptVerifier
            self.centralURL = centralURL
            self.tls = tls
            self.authentication = authentication
            self.retry = retry
            self.requestTimeout = requestTimeout
            self.leaseDuration = leaseDuration ?? Self.leaseDuration(forRequestTimeout: requestTimeout)
            self.idlePoll = idlePoll
            self.batchSize = batchSize
        }
    }

    public var configuration: Configuration
    let store: any DeliveryOutbox
    let transport: HTTPTransport
    let doorbell: Doorbell
    let logger: Logger
    let now: @Sendable () -> Date
    let random: @Sendable () -> Double
    let events: (@Sendable (DeliveryEvent) -> Void)?
    /// The attempts under way, shared with the readiness check.
    public let watch: DeliveryWatch
    /// Called on every turn of the loop while no attempt is stalled, so a watchdog can tell the
    /// forwarder is not stuck.
    public var onProgress: (@Sendable () -> Void)?
    /// Called when the circuit breaker opens (true) or closes (false).
    public var onBreakerChange: (@Sendable (Bool) -> Void)?

    public init(
        configuration: Configuration, store: any DeliveryOutbox, transport: HTTPTransport, doorbell: Doorbell, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        events: (@Sendable (DeliveryEvent) -> Void)? = nil, watch: DeliveryWatch = DeliveryWatch()
    ) {
        self.watch = watch
        self.configuration = configuration
        self.store = store
        self.transport = transport
        self.doorbell = doorbell
        self.logger = logger
        self.now = now
        self.random = random
        self.events = events
    }

    public func run() async throws {
        // On graceful shutdown the attempts in progress are finished and recorded, and no new one
        // starts. If one outlasts the shutdown timeout the group cancels it: the report stays
        // leased and the next start sends it again under the same Idempotency-Key.
        await withGracefulShutdownHandler {
            await deliverUntilStopped()
        } onGracefulShutdown: {
            doorbell.ring()
        }
    }

    /// What ends one wait of the delivery loop.
    enum Turn: Sendable {
        case sent(EndpointHealth)
        case rang
    }

    /// Keeps up to `maxConcurrent` requests under way: whenever one ends, the next starts, so a
    /// backlog is not sent in waves that each wait for their slowest request. Waits for the
    /// first of a request ending, the doorbell (reports stored) and the next due time.
    func deliverUntilStopped() async {
        await withTaskGroup(of: Turn.self) { group in
            var breaker = CircuitBreaker(configuration: configuration.breaker)
            // Requests leased but not started yet, in lease order.
            var queue: [[LeasedReport]] = []
            var underWay = 0
            var listening = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if watch.stalled(longerThan: configuration.stallLimit) == 0 { onProgress?() }
                var wait = configuration.idlePoll
                var moreDue = false
                if breaker.isOpen, !queue.isEmpty {
                    // Leased before the breaker opened: given back rather than held through the outage.
                    await release(queue.flatMap { $0 })
                    queue = []
                }
                // A probe goes alone: while requests from before the breaker opened are still
                // out, nothing is asked of it.
                if underWay < configuration.maxConcurrent, queue.isEmpty, underWay == 0 || !breaker.isOpen {
                    do {
                        switch breaker.permission(now: now()) {
                        case .proceed:
                            let limit = max(
                                configuration.batchSize, configuration.maxReportsPerRequest * (configuration.maxConcurrent - underWay))
                            let leased = try await store.leaseDue(
                                now: now(), limit: limit, leaseDuration: configuration.leaseDuration.timeInterval)
                            queue = requests(leased)
                            moreDue = leased.count == limit
                            if leased.isEmpty, underWay == 0 { wait = try await untilNextDue() }
                        case .probe:
                            let leased = try await store.leaseDue(
                                now: now(), limit: 1, leaseDuration: configuration.leaseDuration.timeInterval)
                            if leased.isEmpty {
                                breaker.cancelProbe()
                                if underWay == 0 { wait = try await untilNextDue() }
                            } else {
                                group.addTask { .sent(await self.send(leased)) }
                                underWay += 1
                            }
                        case .wait(let until):
                            wait = Duration(clampingSeconds: until.timeIntervalSince(now())) + .milliseconds(1)
                        }
                    } catch {
                        if Task.isCancelled { break }
                        // A probe reserved but never sent would leave the breaker waiting for its
                        // outcome for good.
                        breaker.cancelProbe()
                        logger.error("outbox unavailable, retrying", metadata: ["error": "\(error)"])
                    }
                }
                while underWay < configuration.maxConcurrent, !breaker.isOpen, !queue.isEmpty {
                    let next = queue.removeFirst()
                    group.addTask { .sent(await self.send(next)) }
                    underWay += 1
                }
                if moreDue, queue.isEmpty, underWay < configuration.maxConcurrent { continue }
                if underWay == 0, listening, wait < configuration.idlePoll {
                    // The doorbell's listener, the group's only task now, waits for the idle poll;
                    // a retry or the breaker's cool-down falls due sooner. Woken, it is replaced.
                    doorbell.ring()
                    _ = await group.next()
                    listening = false
                }
                if !listening {
                    listening = true
                    let timeout = underWay == 0 ? wait : configuration.idlePoll
                    group.addTask {
                        await self.doorbell.wait(timeout: timeout); return .rang
                    }
                }
                switch await group.next() {
                case .rang?: listening = false
                case .sent(let health)?:
                    underWay -= 1
                    record(health, in: &breaker)
                case nil: break
                }
            }
            // Stopping: what was leased but not sent is given back; what is under way finishes.
            if !queue.isEmpty { await release(queue.flatMap { $0 }) }
            // The doorbell's listener may still be waiting out its idle poll; the group would wait
            // for it before returning.
            doorbell.ring()
            for await turn in group {
                if case .sent(let health) = turn { record(health, in: &breaker) }
            }
        }
    }

    /// `reports` in requests: one each, or batches when the centre takes them.
    func requests(_ reports: [LeasedReport]) -> [[LeasedReport]] {
        configuration.maxReportsPerRequest > 1
            ? ReportBatch.split(reports, maxReports: configuration.maxReportsPerRequest, maxBytes: configuration.maxBytesPerRequest)
            : reports.map { [$0] }
    }

    /// How long until the earliest retry or lease expiry falls due, at most `idlePoll`.
    func untilNextDue() async throws -> Duration {
        let wait = try await store.nextDueDate().map { Duration(clampingSeconds: $0.timeIntervalSince(now())) + .milliseconds(1) }
        return wait.map { min($0, configuration.idlePoll) } ?? configuration.idlePoll
    }

    /// Moves the breaker by what a request showed of the endpoint, and says when it opens or closes.
    func record(_ health: EndpointHealth, in breaker: inout CircuitBreaker) {
        let wasOpen = breaker.isOpen
        switch health {
        case .up: breaker.recordSuccess()
        case .down: breaker.recordFailure(now: now())
        case .unknown: breaker.recordInconclusive(now: now())
        }
        guard breaker.isOpen != wasOpen else { return }
        onBreakerChange?(breaker.isOpen)
        if breaker.isOpen {
            logger.error("central endpoint is failing; deliveries pause, probing every \(configuration.breaker.coolDown)")
        } else {
            logger.notice("central endpoint answers again; deliveries resume")
        }
    }

    /// Gives back reports leased but not sent because the gateway is stopping.
    func release(_ reports: [LeasedReport]) async {
        let attempts = reports.map {
            CompletedAttempt(
                reportID: $0.reportID, attempt: $0.attempt,
                completion: .retry(at: now(), status: nil, error: "not sent: the gateway was stopping"))
        }
        _ = try? await store.complete(attempts, now: now())
    }

    /// What an attempt says about the endpoint, for the circuit breaker.
    enum EndpointHealth { case up, down, unknown }

    /// One request carrying `reports` (one to `/v1/reports`, or several to `/v1/reports/batch`),
    /// its outcome recorded for every report in one store transaction whatever happens.
    @discardableResult
    func send(_ reports: [LeasedReport]) async -> EndpointHealth {
        let attempt = watch.begin()
        defer { watch.end(attempt) }
        let started = now()
        let batched = configuration.maxReportsPerRequest > 1
        let request = batched ? ReportBatch.request(reports) : ReportBatch.single(reports[0])
        let url = configuration.centralURL + request.path
        var headers = request.headers
        var status: Int?
        var health = EndpointHealth.down
        var answeredAt = started
        var completions: [(report: LeasedReport, completion: DeliveryCompletion)]
        do {
            if let authorization = try await configuration.authentication.authorizationHeader() {
                headers.append(("Authorization", authorization))
            }
            if let signer = configuration.messageSigner {
                headers += try HTTPMessageSignatures.sign(
                    .init(method: "POST", url: url, headers: headers), key: signer.key, keyID: signer.keyID, created: now())
            }
            let answer = try await transport.send(
                method: "POST", url: url, headers: headers, body: request.body,
                tls: configuration.tls, timeout: configuration.requestTimeout, maxBodyBytes: max(1 << 20, reports.count * (16 << 10)))
            status = answer.status
            answeredAt = now()
            switch DeliveryVerdict.classify(
                status: answer.status, body: answer.body, retryAfter: answer.header("Retry-After"), now: now(),
                retryable: configuration.retry.retryableStatuses)
            {
            case .delivered(let receipt):
                health = .up
                if batched {
                    completions = ReportBatch.outcomes(
                        of: reports, answer: answer.body, now: now(), retryable: configuration.retry.retryableStatuses
                    ).map {
                        switch $0.verdict {
                        case .delivered(let receipt): ($0.report, .delivered(status: $0.status ?? answer.status, receipt: receipt))
                        case .retry(let after, let reason):
                            ($0.report, retryOrGiveUp($0.report, retryAfter: after, status: $0.status, error: reason))
                        case .reject(let reason): ($0.report, .deadLetter(status: $0.status, response: $0.detail, reason: reason))
                        }
                    }
                } else {
                    completions = [(reports[0], .delivered(status: answer.status, receipt: receipt))]
                }
            case .retry(let after, let reason):
                // Throttling and credential refusals come from a live endpoint; 5xx do not.
                health = (500...599).contains(answer.status) ? .down : .unknown
                completions = reports.map { ($0, retryOrGiveUp($0, retryAfter: after, status: answer.status, error: reason)) }
            case .reject(let reason):
                health = .up
                let response = String(decoding: answer.body.prefix(64 << 10), as: UTF8.self)
                completions = reports.map { ($0, .deadLetter(status: answer.status, response: response, reason: reason)) }
            }
        } catch {
            if Task.isCancelled {
                // Stopped harder than gracefully: leave the leases for the next start to reclaim.
                logger.notice(
                    "delivery interrupted by shutdown; it will be sent again at the next start",
                    metadata: [
                        "report_id": "\(reports.map(\.reportID).joined(separator: ","))"
                    ])
                return .unknown
            }
            answeredAt = now()
            completions = reports.map { ($0, retryOrGiveUp($0, retryAfter: nil, status: nil, error: "\(error)")) }
        }
        var verifiedReceipts: [String: Bool] = [:]
        if let verifier = configuration.receiptVerifier {
            completions = completions.map { report, completion in
                guard case .delivered(let itemStatus, let receipt) = completion else { return (report, completion) }
                guard let problem = Self.receiptProblem(receipt, for: report.reportID, verifier: verifier) else {
                    verifiedReceipts[report.reportID] = true
                    return (report, completion)
                }
                verifiedReceipts[report.reportID] = false
                logger.error(
                    "the centre's receipt does not verify; the report is a dead letter until an operator judges it",
                    metadata: ["report_id": "\(report.reportID)", "problem": "\(problem)"])
                return (
                    report,
                    .deadLetter(
                        status: itemStatus, response: receipt, reason: Self.unverifiedReceiptReason(status: itemStatus, problem: problem))
                )
            }
        }
        let attempts = completions.map { report, completion in
            CompletedAttempt(
                reportID: report.reportID, attempt: report.attempt, completion: completion,
                receiptVerified: verifiedReceipts[report.reportID])
        }
        do {
            for skipped in try await store.complete(attempts, now: now()) {
                logger.error(
                    "could not record delivery outcome", metadata: ["report_id": "\(skipped.reportID)", "error": "\(skipped.reason)"])
            }
        } catch {
            // The leases will expire and the reports will be sent again; the centre deduplicates.
            logger.error(
                "could not record delivery outcomes",
                metadata: [
                    "report_id": "\(reports.map(\.reportID).joined(separator: ","))", "error": "\(error)",
                ])
        }
        for (report, completion) in completions {
            switch completion {
            case .delivered(let itemStatus, _):
                logger.info(
                    "report delivered",
                    metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "status": "\(itemStatus)"])
            case .retry(let at, _, let error):
                logger.warning(
                    "delivery failed, will retry",
                    metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "error": "\(error)", "retry_at": "\(at)"])
            case .deadLetter(_, _, let reason):
                logger.error("report dead-lettered", metadata: ["report_id": "\(report.reportID)", "reason": "\(reason)"])
            }
            events?(
                DeliveryEvent(
                    reportID: report.reportID, attempt: report.attempt, status: status, completion: completion, startedAt: started,
                    answeredAt: answeredAt, receiptVerified: verifiedReceipts[report.reportID]))
        }
        return health
    }

    /// Why a receipt is not a JWS by a trusted centre key that acknowledges this very report; nil
    /// when it is.
    static func receiptProblem(_ receipt: String?, for reportID: String, verifier: JWSVerifier) -> String? {
        guard let receipt, !receipt.isEmpty else { return "the answer carried no receipt" }
        let jws: FlattenedJWS
        do { jws = try FlattenedJWS.parse(any: Data(receipt.utf8)) } catch { return "the receipt is not a signed JWS (\(error.message))" }
        let verified: JWSVerifier.Verified
        do { verified = try verifier.verify(jws) } catch {
            return "the receipt's signature does not verify with central.receipt_keys (\(error.message))"
        }
        guard case .object(let members)? = try? JSONValue.parse(verified.payload), case .string(let acknowledged)? = members["report_id"]
        else {
            return "the signed receipt names no report_id"
        }
        return acknowledged == reportID ? nil : "the signed receipt acknowledges report \(acknowledged), not this one"
    }

    /// What an operator reads on a report whose receipt did not verify. A dead letter rather than
    /// a retry: the centre said it holds the report, so sending it again would only fetch the same
    /// receipt, and an auditor must be able to tell a proven delivery from a claimed one.
    static func unverifiedReceiptReason(status: Int, problem: String) -> String {
        "the centre answered \(status) but its receipt proves nothing: \(problem). The centre may hold the report; "
            + "ask it, then `outbox retry` (to be answered with a valid receipt) or `outbox purge`"
    }

    /// Another try, unless the report has waited longer than the policy's maximum age.
    func retryOrGiveUp(_ report: LeasedReport, retryAfter: Duration?, status: Int?, error: String) -> DeliveryCompletion {
        let age = now().timeIntervalSince(report.createdAt)
        if age > configuration.retry.maxAge.timeInterval {
            return .deadLetter(
                status: status, response: nil,
                reason:
                    "gave up after \(report.attempt) attempts over \(Int(age)) s (max_age \(configuration.retry.maxAge)); last error: \(error)"
            )
        }
        return .retry(at: nextAttempt(report, retryAfter: retryAfter), status: status, error: error)
    }

    func nextAttempt(_ report: LeasedReport, retryAfter: Duration?) -> Date {
        configuration.retry.nextAttempt(
            afterAttempt: report.attempt, retryAfter: retryAfter, unitRandom: random(), now: now(), storedAt: report.createdAt)
    }
}

/// One finished delivery attempt, for counters and the demo's summary.
public struct DeliveryEvent: Sendable {
    public let reportID: String
    public let attempt: Int
    public let status: Int?
    public let completion: DeliveryCompletion
    /// When the attempt began, and when the centre's answer (or the failure) came.
    public let startedAt: Date
    public let answeredAt: Date
    /// Whether the centre's receipt verified, when receipts are checked.
    public var receiptVerified: Bool?
    public var duration: TimeInterval { answeredAt.timeIntervalSince(startedAt) }

    public init(
        reportID: String, attempt: Int, status: Int?, completion: DeliveryCompletion, startedAt: Date, answeredAt: Date,
        receiptVerified: Bool? = nil
    ) {
        (self.reportID, self.attempt, self.status, self.completion) = (reportID, attempt, status, completion)
        (self.startedAt, self.answeredAt, self.receiptVerified) = (startedAt, answeredAt, receiptVerified)
    }
}
