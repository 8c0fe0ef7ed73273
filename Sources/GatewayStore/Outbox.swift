import Foundation

/// Where a stored report is on its way to the central endpoint.
public enum OutboxState: String, Sendable, Codable, CaseIterable {
    case pending
    case inFlight = "in_flight"
    case delivered
    case deadLettered = "dead_lettered"
}

/// How one delivery attempt ended, as the forwarder reports it to the outbox.
public enum DeliveryCompletion: Sendable, Equatable {
    /// The centre has the report (first time or already): keep its receipt.
    case delivered(status: Int, receipt: String?)
    /// Try again no earlier than `at`.
    case retry(at: Date, status: Int?, error: String)
    /// The centre refused the report for good; keep its answer for the operator.
    case deadLetter(status: Int?, response: String?, reason: String)
}

public struct OutboxTransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reportID: String
    public let from: OutboxState
    public let attempted: String
    public var description: String { "report \(reportID): cannot \(attempted) from state \(from.rawValue)" }
}

/// One report in the outbox and the rules for moving it between states.
///
/// Pure value type: the store loads an entry, applies a transition and writes it back inside one
/// transaction, so the rules are tested without any database.
///
/// ```
/// pending ──lease──► in_flight ──delivered──► delivered
///    ▲                  │  ──dead letter──► dead_lettered
///    └──── retry ───────┘
/// in_flight whose lease expired (the process died mid-delivery) can be leased again.
/// ```
public struct OutboxEntry: Sendable, Equatable {
    public let reportID: String
    /// Set when read from a store; not part of the state machine.
    public var adapter: String?
    public var observationCount: Int?
    public var createdAt: Date?
    /// Whether the centre's signed receipt verified (nil when not checked).
    public var receiptVerified: Bool?
    public private(set) var state: OutboxState
    /// Counts leases; a completion must name the attempt it belongs to, so a late answer to a
    /// lease that expired and was taken again cannot overwrite the newer attempt.
    public private(set) var attempts: Int
    public private(set) var nextAttemptAt: Date
    public private(set) var leaseUntil: Date?
    public private(set) var lastStatus: Int?
    public private(set) var lastError: String?
    public private(set) var deliveredAt: Date?
    public private(set) var receipt: String?
    public private(set) var response: String?

    public init(
        reportID: String, state: OutboxState = .pending, attempts: Int = 0, nextAttemptAt: Date,
        leaseUntil: Date? = nil, lastStatus: Int? = nil, lastError: String? = nil, deliveredAt: Date? = nil,
        receipt: String? = nil, response: String? = nil
    ) {
        self.reportID = reportID
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.leaseUntil = leaseUntil
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.deliveredAt = deliveredAt
        self.receipt = receipt
        self.response = response
    }

    /// Whether a forwarder may take this entry now.
    public func isDue(at now: Date) -> Bool {
        switch state {
        case .pending: nextAttemptAt <= now
        case .inFlight: (leaseUntil ?? .distantPast) <= now
        case .delivered, .deadLettered: false
        }
    }

    public mutating func lease(now: Date, duration: TimeInterval) throws(OutboxTransitionError) {
        guard isDue(at: now) else { throw OutboxTransitionError(reportID: reportID, from: state, attempted: "lease") }
        state = .inFlight
        attempts += 1
        leaseUntil = now.addingTimeInterval(duration)
    }

    /// Returns a report whose sender died mid-delivery to the queue at once. Only the store's
    /// single owner may do this at start-up; otherwise the lease is left to expire.
    public mutating func abandonLease(now: Date) throws(OutboxTransitionError) {
        guard state == .inFlight else { throw OutboxTransitionError(reportID: reportID, from: state, attempted: "abandon lease") }
        state = .pending
        leaseUntil = nil
        nextAttemptAt = now
        lastError = "interrupted: the gateway stopped during delivery"
    }

    /// An operator sends a dead letter again (after fixing what the centre objected to), or, with
    /// `includingPending`, a report waiting for its next retry now: for an operator who knows the
    /// centre is back, or whose reports a far `Retry-After` parked before it was bounded.
    public mutating func requeue(now: Date, includingPending: Bool = false) throws(OutboxTransitionError) {
        switch state {
        case .deadLettered:
            state = .pending
            lastError = "requeued by the operator after: " + (lastError ?? "unknown")
        case .pending where includingPending:
            lastError = "sent now by the operator, instead of at \(Self.format(nextAttemptAt)), after: " + (lastError ?? "unknown")
        default:
            throw OutboxTransitionError(reportID: reportID, from: state, attempted: includingPending ? "send now" : "requeue")
        }
        nextAttemptAt = now
    }

    private static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
    }

    public mutating func complete(_ completion: DeliveryCompletion, attempt: Int, now: Date) throws(OutboxTransitionError) {
        guard state == .inFlight, attempt == attempts else {
            throw OutboxTransitionError(reportID: reportID, from: state, attempted: "complete attempt \(attempt)")
        }
        leaseUntil = nil
        switch completion {
        case .delivered(let status, let receipt):
            state = .delivered
            lastStatus = status
            lastError = nil
            deliveredAt = now
            self.receipt = receipt
        case .retry(let at, let status, let error):
            state = .pending
            nextAttemptAt = at
            lastStatus = status
            lastError = error
        case .deadLetter(let status, let response, let reason):
            state = .deadLettered
            lastStatus = status
            lastError = reason
            self.response = response
        }
    }
}

/// A report leased for delivery: what the forwarder sends.
public struct LeasedReport: Sendable, Equatable {
    public let reportID: String
    public let attempt: Int
    /// Exactly the bytes to send.
    public let body: Data
    public let contentType: String
    public let detachedSignature: String?
    public let contentDigest: String
    public let observationCount: Int
    public let createdAt: Date

    public init(
        reportID: String, attempt: Int, body: Data, contentType: String, detachedSignature: String?, contentDigest: String,
        observationCount: Int, createdAt: Date
    ) {
        self.reportID = reportID
        self.attempt = attempt
        self.body = body
        self.contentType = contentType
        self.detachedSignature = detachedSignature
        self.contentDigest = contentDigest
        self.observationCount = observationCount
        self.createdAt = createdAt
    }
}

/// One adapter's latest pulls, as `status` prints them.
public struct AdapterStatus: Sendable, Equatable {
    public let adapter: String
    public let lastPull: Date?
    public let lastSuccess: Date?
    /// The most recent failure, kept after later successes so an operator sees what happened.
    public let lastError: String?
    public let lastErrorAt: Date?
    public let nextRun: Date?
}

/// Counts per state, as `outbox stats` prints them.
public struct OutboxStats: Sendable, Equatable, Codable {
    public var pending: Int
    public var inFlight: Int
    public var delivered: Int
    public var deadLettered: Int
    public var deliveredObservations: Int
    public var oldestUndeliveredAgeSeconds: Int
    /// Reports whose receipt from the centre did not verify against its receipt keys.
    public var unverifiedReceipts: Int

    public init(
        pending: Int = 0, inFlight: Int = 0, delivered: Int = 0, deadLettered: Int = 0, deliveredObservations: Int = 0,
        oldestUndeliveredAgeSeconds: Int = 0, unverifiedReceipts: Int = 0
    ) {
        (self.pending, self.inFlight, self.delivered, self.deadLettered) = (pending, inFlight, delivered, deadLettered)
        (self.deliveredObservations, self.oldestUndeliveredAgeSeconds) = (deliveredObservations, oldestUndeliveredAgeSeconds)
        self.unverifiedReceipts = unverifiedReceipts
    }

    enum CodingKeys: String, CodingKey {
        case pending
        case inFlight = "in_flight"
        case delivered
        case deadLettered = "dead_lettered"
        case deliveredObservations = "delivered_observations"
        case oldestUndeliveredAgeSeconds = "oldest_undelivered_age_s"
        case unverifiedReceipts = "unverified_receipts"
    }

    public var undelivered: Int { pending + inFlight }
}
