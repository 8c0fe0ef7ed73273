import Foundation
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle

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
        public var maxReportsPerRequest: Int = 1
        /// A batch request's body stays under this (a larger report goes alone).
        public var maxBytesPerRequest: Int = 8 << 20
        /// Also sign each request (RFC 9421) with this key under this `keyid`.
        public var messageSigner: (key: SigningKey, keyID: String)?
        public var breaker: CircuitBreaker.Configuration
        /// How many deliveries may be under way at once.
        public var maxConcurrent: Int = 4
        /// The centre's receipt keys: when set, signed receipts are verified before they are kept as proof.
        public var receiptVerifier: JWSVerifier?

        public init(
            centralURL: String, tls: EndpointTLS, authentication: Authentication = .none, retry: RetryPolicy = .init(),
            requestTimeout: Duration = .seconds(30), leaseDuration: Duration? = nil, idlePoll: Duration = .seconds(5),
            batchSize: Int = 32, messageSigner: (key: SigningKey, keyID: String)? = nil, breaker: CircuitBreaker.Configuration = .init()
        ) {
            self.messageSigner = messageSigner
            self.breaker = breaker
            self.receiptVerifier = nil
            self.centralURL = centralURL
            self.tls = tls
            self.authentication = authentication
            self.retry = retry
            self.requestTimeout = requestTimeout
            self.leaseDuration = leaseDuration ?? requestTimeout * 2 + .seconds(10)
            self.idlePoll = idlePoll
            self.batchSize = batchSize
        }
    }

    public var configuration: Configuration
    let store: any GatewayStore
    let transport: HTTPTransport
    let doorbell: Doorbell
    let logger: Logger
    let now: @Sendable () -> Date
    let random: @Sendable () -> Double
    let events: (@Sendable (DeliveryEvent) -> Void)?
    /// Called on every turn of the loop, so a watchdog can tell the forwarder is not stuck.
    public var onProgress: (@Sendable () -> Void)?
    /// Called when the circuit breaker opens (true) or closes (false).
    public var onBreakerChange: (@Sendable (Bool) -> Void)?

    public init(
        configuration: Configuration, store: any GatewayStore, transport: HTTPTransport, doorbell: Doorbell, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        events: (@Sendable (DeliveryEvent) -> Void)? = nil
    ) {
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
                onProgress?()
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
                            let limit = max(configuration.batchSize, configuration.maxReportsPerRequest * (configuration.maxConcurrent - underWay))
                            let leased = try await store.leaseDue(now: now(), limit: limit, leaseDuration: configuration.leaseDuration.timeInterval)
                            queue = requests(leased)
                            moreDue = leased.count == limit
                            if leased.isEmpty, underWay == 0 { wait = try await untilNextDue() }
                        case .probe:
                            let leased = try await store.leaseDue(now: now(), limit: 1, leaseDuration: configuration.leaseDuration.timeInterval)
                            if leased.isEmpty {
                                breaker.cancelProbe()
                                if underWay == 0 { wait = try await untilNextDue() }
                            } else {
                                group.addTask { .sent(await self.send(leased)) }
                                underWay += 1
                            }
                        case .wait(let until):
                            wait = .milliseconds(Int64(max(0, until.timeIntervalSince(now())) * 1000) + 1)
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
                    group.addTask { await self.doorbell.wait(timeout: timeout); return .rang }
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
        let wait = try await store.nextDueDate().map { max(0, $0.timeIntervalSince(now())) }
        return wait.map { min(Duration.milliseconds(Int64($0 * 1000) + 1), configuration.idlePoll) } ?? configuration.idlePoll
    }

    /// Moves the breaker by what a request showed of the endpoint, and says when it opens or closes.
    func record(_ health: EndpointHealth, in breaker: inout CircuitBreaker) {
        let wasOpen = breaker.isOpen
        switch health {
        case .up: breaker.recordSuccess()
        case .down: breaker.recordFailure(now: now())
        case .unknown: break
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
            CompletedAttempt(reportID: $0.reportID, attempt: $0.attempt, completion: .retry(at: now(), status: nil, error: "not sent: the gateway was stopping"))
        }
        _ = try? await store.complete(attempts, now: now())
    }

    /// What an attempt says about the endpoint, for the circuit breaker.
    enum EndpointHealth { case up, down, unknown }

    /// One request carrying `reports` (one to `/v1/reports`, or several to `/v1/reports/batch`),
    /// its outcome recorded for every report in one store transaction whatever happens.
    @discardableResult
    func send(_ reports: [LeasedReport]) async -> EndpointHealth {
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
                    completions = ReportBatch.outcomes(of: reports, answer: answer.body, now: now(), retryable: configuration.retry.retryableStatuses).map {
                        switch $0.verdict {
                        case .delivered(let receipt): ($0.report, .delivered(status: $0.status ?? answer.status, receipt: receipt))
                        case .retry(let after, let reason): ($0.report, retryOrGiveUp($0.report, retryAfter: after, status: $0.status, error: reason))
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
                logger.notice("delivery interrupted by shutdown; it will be sent again at the next start", metadata: [
                    "report_id": "\(reports.map(\.reportID).joined(separator: ","))",
                ])
                return .unknown
            }
            answeredAt = now()
            completions = reports.map { ($0, retryOrGiveUp($0, retryAfter: nil, status: nil, error: "\(error)")) }
        }
        let attempts = completions.map { report, completion -> CompletedAttempt in
            var verified: Bool?
            if case .delivered(_, let receipt) = completion, let verifier = configuration.receiptVerifier {
                verified = Self.receiptHolds(receipt, for: report.reportID, verifier: verifier)
                if verified == false {
                    logger.error("the centre's receipt does not verify; the report counts as delivered but the receipt proves nothing",
                                 metadata: ["report_id": "\(report.reportID)"])
                }
            }
            return CompletedAttempt(reportID: report.reportID, attempt: report.attempt, completion: completion, receiptVerified: verified)
        }
        do {
            for skipped in try await store.complete(attempts, now: now()) {
                logger.error("could not record delivery outcome", metadata: ["report_id": "\(skipped.reportID)", "error": "\(skipped.reason)"])
            }
        } catch {
            // The leases will expire and the reports will be sent again; the centre deduplicates.
            logger.error("could not record delivery outcomes", metadata: [
                "report_id": "\(reports.map(\.reportID).joined(separator: ","))", "error": "\(error)",
            ])
        }
        for (report, completion) in completions {
            switch completion {
            case .delivered(let itemStatus, _):
                logger.info("report delivered", metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "status": "\(itemStatus)"])
            case .retry(let at, _, let error):
                logger.warning("delivery failed, will retry", metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "error": "\(error)", "retry_at": "\(at)"])
            case .deadLetter(_, _, let reason):
                logger.error("report dead-lettered", metadata: ["report_id": "\(report.reportID)", "reason": "\(reason)"])
            }
            events?(DeliveryEvent(
                reportID: report.reportID, attempt: report.attempt, status: status, completion: completion, startedAt: started,
                answeredAt: answeredAt))
        }
        return health
    }

    /// Whether a receipt is a JWS by a trusted centre key that acknowledges this very report.
    static func receiptHolds(_ receipt: String?, for reportID: String, verifier: JWSVerifier) -> Bool {
        guard let receipt, let jws = try? FlattenedJWS.parse(any: Data(receipt.utf8)), let verified = try? verifier.verify(jws),
            let object = try? JSONSerialization.jsonObject(with: verified.payload) as? [String: Any]
        else { return false }
        return object["report_id"] as? String == reportID
    }

    /// Another try, unless the report has waited longer than the policy's maximum age.
    func retryOrGiveUp(_ report: LeasedReport, retryAfter: Duration?, status: Int?, error: String) -> DeliveryCompletion {
        let age = now().timeIntervalSince(report.createdAt)
        if age > configuration.retry.maxAge.timeInterval {
            return .deadLetter(
                status: status, response: nil,
                reason: "gave up after \(report.attempt) attempts over \(Int(age)) s (max_age \(configuration.retry.maxAge)); last error: \(error)")
        }
        return .retry(at: nextAttempt(report, retryAfter: retryAfter), status: status, error: error)
    }

    func nextAttempt(_ report: LeasedReport, retryAfter: Duration?) -> Date {
        let delay = configuration.retry.delay(afterAttempt: report.attempt, retryAfter: retryAfter, unitRandom: random())
        return now().addingTimeInterval(delay.timeInterval)
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
    public var duration: TimeInterval { answeredAt.timeIntervalSince(startedAt) }
}
