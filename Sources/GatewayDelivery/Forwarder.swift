import Foundation
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle

/// Sends stored reports to the central endpoint, one lease at a time, until shut down.
///
/// Delivery is at-least-once: a report is leased, sent, then marked. A crash between sending and
/// marking leaves the lease to expire and the report to be sent again with the same
/// `Idempotency-Key`, which the centre answers with 200/409, counted as delivered.
public struct Forwarder: Service {
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
        public var batchSize: Int
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
        // On graceful shutdown the attempt in progress is finished and recorded, and no new one
        // starts. If it outlasts the shutdown timeout the group cancels it: the report stays
        // leased and the next start sends it again under the same Idempotency-Key.
        await withGracefulShutdownHandler {
            var breaker = CircuitBreaker(configuration: configuration.breaker)
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                onProgress?()
                do {
                    let limit: Int
                    switch breaker.permission(now: now()) {
                    case .proceed: limit = configuration.batchSize
                    case .probe: limit = 1
                    case .wait(let until):
                        await doorbell.wait(timeout: .milliseconds(Int64(max(0, until.timeIntervalSince(now())) * 1000) + 1))
                        continue
                    }
                    let leased = try await store.leaseDue(now: now(), limit: limit, leaseDuration: configuration.leaseDuration.timeInterval)
                    if leased.isEmpty { breaker.cancelProbe() }
                    await deliver(leased, concurrently: limit == 1 ? 1 : configuration.maxConcurrent, breaker: &breaker)
                    if !leased.isEmpty { continue }
                    let wait = try await store.nextDueDate().map { max(0, $0.timeIntervalSince(now())) }
                    let sleep = wait.map { min(Duration.milliseconds(Int64($0 * 1000) + 1), configuration.idlePoll) } ?? configuration.idlePoll
                    await doorbell.wait(timeout: sleep)
                } catch {
                    if Task.isCancelled { break }
                    logger.error("outbox unavailable, retrying", metadata: ["error": "\(error)"])
                    await doorbell.wait(timeout: configuration.idlePoll)
                }
            }
        } onGracefulShutdown: {
            doorbell.ring()
        }
    }

    /// Delivers `reports`, at most `limit` at a time. No new attempt starts once the gateway is
    /// stopping or the breaker opens; those reports are given back.
    func deliver(_ reports: [LeasedReport], concurrently limit: Int, breaker: inout CircuitBreaker) async {
        var waiting = reports[...]
        await withTaskGroup(of: EndpointHealth.self) { group in
            var underWay = 0
            while true {
                while underWay < limit, let next = waiting.first, !Task.isShuttingDownGracefully, !Task.isCancelled,
                    !(breaker.isOpen && underWay + (reports.count - waiting.count) > 0)
                {
                    waiting = waiting.dropFirst()
                    group.addTask { await self.deliver(next) }
                    underWay += 1
                }
                guard underWay > 0, let health = await group.next() else { break }
                underWay -= 1
                let wasOpen = breaker.isOpen
                switch health {
                case .up: breaker.recordSuccess()
                case .down: breaker.recordFailure(now: now())
                case .unknown: break
                }
                if breaker.isOpen != wasOpen {
                    onBreakerChange?(breaker.isOpen)
                    if breaker.isOpen {
                        logger.error("central endpoint is failing; deliveries pause, probing every \(configuration.breaker.coolDown)")
                    } else {
                        logger.notice("central endpoint answers again; deliveries resume")
                    }
                }
            }
        }
        if !waiting.isEmpty { await release(Array(waiting)) }
    }

    /// Gives back reports leased but not sent because the gateway is stopping.
    func release(_ reports: [LeasedReport]) async {
        for report in reports {
            try? await store.complete(
                reportID: report.reportID, attempt: report.attempt,
                with: .retry(at: now(), status: nil, error: "not sent: the gateway was stopping"), now: now())
        }
    }

    /// What an attempt says about the endpoint, for the circuit breaker.
    enum EndpointHealth { case up, down, unknown }

    /// One attempt for one leased report, recorded in the store whatever happens.
    @discardableResult
    func deliver(_ report: LeasedReport) async -> EndpointHealth {
        let started = now()
        var headers = [
            ("Content-Type", report.contentType),
            ("Accept", "application/json"),
            ("Idempotency-Key", report.reportID),
            ("Content-Digest", report.contentDigest),
        ]
        if let detached = report.detachedSignature { headers.append((JWSSerialization.detachedHeader, detached)) }
        let url = configuration.centralURL + "/v1/reports"
        let completion: DeliveryCompletion
        var status: Int?
        var health = EndpointHealth.down
        var answeredAt = started
        do {
            if let authorization = try await configuration.authentication.authorizationHeader() {
                headers.append(("Authorization", authorization))
            }
            if let signer = configuration.messageSigner {
                headers += try HTTPMessageSignatures.sign(
                    .init(method: "POST", url: url, headers: headers), key: signer.key, keyID: signer.keyID, created: now())
            }
            let answer = try await transport.send(
                method: "POST", url: url, headers: headers, body: report.body,
                tls: configuration.tls, timeout: configuration.requestTimeout, maxBodyBytes: 1 << 20)
            status = answer.status
            answeredAt = now()
            switch DeliveryVerdict.classify(
                status: answer.status, body: answer.body, retryAfter: answer.header("Retry-After"), now: now(),
                retryable: configuration.retry.retryableStatuses)
            {
            case .delivered(let receipt):
                health = .up
                completion = .delivered(status: answer.status, receipt: receipt)
            case .retry(let after, let reason):
                // Throttling and credential refusals come from a live endpoint; 5xx do not.
                health = (500...599).contains(answer.status) ? .down : .unknown
                completion = retryOrGiveUp(report, retryAfter: after, status: answer.status, error: reason)
            case .reject(let reason):
                health = .up
                completion = .deadLetter(status: answer.status, response: String(decoding: answer.body.prefix(64 << 10), as: UTF8.self), reason: reason)
            }
        } catch {
            if Task.isCancelled {
                // Stopped harder than gracefully: leave the lease for the next start to reclaim.
                logger.notice("delivery interrupted by shutdown; it will be sent again at the next start", metadata: ["report_id": "\(report.reportID)"])
                return .unknown
            }
            answeredAt = now()
            completion = retryOrGiveUp(report, retryAfter: nil, status: nil, error: "\(error)")
        }
        do {
            try await store.complete(reportID: report.reportID, attempt: report.attempt, with: completion, now: now())
        } catch {
            // The lease will expire and the report will be sent again; the centre deduplicates.
            logger.error("could not record delivery outcome", metadata: ["report_id": "\(report.reportID)", "error": "\(error)"])
        }
        if case .delivered(_, let receipt) = completion, let verifier = configuration.receiptVerifier {
            let verified = Self.receiptHolds(receipt, for: report.reportID, verifier: verifier)
            if !verified {
                logger.error("the centre's receipt does not verify; the report counts as delivered but the receipt proves nothing",
                             metadata: ["report_id": "\(report.reportID)"])
            }
            try? await store.markReceipt(reportID: report.reportID, verified: verified)
        }
        let event = DeliveryEvent(reportID: report.reportID, attempt: report.attempt, status: status, completion: completion, startedAt: started, answeredAt: answeredAt)
        switch completion {
        case .delivered:
            logger.info("report delivered", metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "status": "\(status ?? 0)"])
        case .retry(let at, _, let error):
            logger.warning("delivery failed, will retry", metadata: ["report_id": "\(report.reportID)", "attempt": "\(report.attempt)", "error": "\(error)", "retry_at": "\(at)"])
        case .deadLetter(_, _, let reason):
            logger.error("report dead-lettered", metadata: ["report_id": "\(report.reportID)", "reason": "\(reason)"])
        }
        events?(event)
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
