import Crypto
import Foundation
import GatewayContracts
import ServiceLifecycle
import GatewayJSON

/// A report ready to be stored: signed, with its digest.
public struct SignedReport: Sendable, Equatable {
    public let reportID: String
    /// Exactly the bytes to send.
    public let body: Data
    public let contentType: String
    /// The `JWS-Signature` header when the signature travels detached from the report.
    public let detachedSignature: String?
    public let contentDigest: String
    public let observationCount: Int
    /// The figures the report carries, with their revisions, for the ledger: written with the
    /// report, in its transaction.
    public let figures: [ReportedFigure]

    public init(
        reportID: String, body: Data, contentType: String = "application/jose+json", detachedSignature: String? = nil,
        contentDigest: String, observationCount: Int, figures: [ReportedFigure] = []
    ) {
        self.reportID = reportID
        self.body = body
        self.contentType = contentType
        self.detachedSignature = detachedSignature
        self.contentDigest = contentDigest
        self.observationCount = observationCount
        self.figures = figures
    }
}

/// One figure of a report as the ledger records it.
public struct ReportedFigure: Sendable, Equatable {
    public let key: FigureKey
    public let revision: Int
    public let value: FigureValue

    public init(key: FigureKey, revision: Int, value: FigureValue) {
        self.key = key
        self.revision = revision
        self.value = value
    }
}

/// One revision of one figure, as the ledger keeps it: what was sent, in which report, and
/// whether the centre has accepted that report.
public struct LedgerEntry: Sendable, Equatable {
    public let key: FigureKey
    public let revision: Int
    public let value: FigureValue
    public let reportID: String
    public let adapter: String
    public let storedAt: Date
    public let acceptedAt: Date?
    /// The centre's receipt for the report, when it sent one.
    public let receipt: String?

    public init(
        key: FigureKey, revision: Int, value: FigureValue, reportID: String, adapter: String, storedAt: Date, acceptedAt: Date?,
        receipt: String? = nil
    ) {
        self.key = key
        self.revision = revision
        self.value = value
        self.reportID = reportID
        self.adapter = adapter
        self.storedAt = storedAt
        self.acceptedAt = acceptedAt
        self.receipt = receipt
    }
}

/// A report would record a revision of a figure that another report recorded meanwhile with a
/// different value (two pulls deciding the same figure's next revision at once): the report is
/// not stored, and the pull, run again, decides afresh.
public struct LedgerConflict: Error, Sendable, CustomStringConvertible {
    public let key: FigureKey
    public let revision: Int
    public let otherReportID: String

    public var description: String {
        "figure \(key) revision \(revision) was recorded meanwhile by report \(otherReportID) with another value; the pull is to be run again"
    }
}

/// A record that failed mapping or validation, kept with every reason.
/// A commit would replace quarantined records that are no longer there: another command checked
/// them again (or purged them) meanwhile. Nothing of the commit is stored.
public struct QuarantineReplaced: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "some of these quarantined records were reprocessed or purged meanwhile; list them again" }
}

public struct QuarantinedRecord: Sendable, Equatable {
    /// What failed: the source's record when it failed mapping, else the observation mapped from it.
    public let record: JSONValue
    public let reasons: [QuarantineReason]
    /// The source's record an observation was mapped from, kept so that it can be mapped again
    /// once the adapter file is fixed; `nil` when `record` is the source's own (or the source
    /// gave the observation itself, as a program does).
    public let source: JSONValue?

    public init(record: JSONValue, reasons: [QuarantineReason], source: JSONValue? = nil) {
        self.record = record
        self.reasons = reasons
        self.source = source
    }
}

/// The end of a pull: its last reports, its quarantined records, its new cursor and its line in
/// the pull history, committed whole or not at all. A long pull stores its first reports ahead
/// (`GatewayStore.storeReports`) so that delivery starts before it ends; the cursor moves only here.
public struct PullCommit: Sendable {
    public let adapter: String
    public let startedAt: Date
    public let pulledRecords: Int
    public let reports: [SignedReport]
    public let quarantined: [QuarantinedRecord]
    /// The adapter's new cursor; `nil` leaves the stored one as it is.
    public let cursor: String?
    /// What this pull stored ahead of this commit, for its line in the pull history.
    public let storedAhead: ReportTally
    /// Valid observations of figures the centre holds already with the same value, not sent again.
    public let unchanged: Int
    /// Observations sent as a new revision of a figure already sent.
    public let revisions: Int
    /// Records of codes the adapter skips: counted, neither sent nor quarantined.
    public let skipped: Int
    /// Quarantined records this commit takes the place of (they were checked again, and pass or
    /// stay with today's reasons): deleted in its transaction, so each is sent at most once. A
    /// commit that replaces records is not a pull and adds no line to the pull history.
    public let replacesQuarantined: [Int64]

    public init(
        adapter: String, startedAt: Date, pulledRecords: Int, reports: [SignedReport], quarantined: [QuarantinedRecord], cursor: String?,
        storedAhead: ReportTally = ReportTally(), unchanged: Int = 0, revisions: Int = 0, skipped: Int = 0,
        replacesQuarantined: [Int64] = []
    ) {
        self.replacesQuarantined = replacesQuarantined
        self.skipped = skipped
        self.adapter = adapter
        self.startedAt = startedAt
        self.pulledRecords = pulledRecords
        self.reports = reports
        self.quarantined = quarantined
        self.cursor = cursor
        self.storedAhead = storedAhead
        self.unchanged = unchanged
        self.revisions = revisions
    }

    /// The pull's reports and observations in all, for the pull history.
    public var totals: ReportTally { storedAhead.adding(reports) }

    /// A quarantined record as the stores keep it: canonical JSON text, and the figure it is of
    /// when the record is a mapped observation (it failed validation, not mapping).
    struct QuarantineRow {
        let record: String
        let reasons: String
        /// Its reasons' rules, each once, for the table that finds records by rule.
        var rules: [String] = []
        let source: String?
        let indicator, province, level, area, period: String?

        /// What tells one quarantined record from another: its adapter, content and reasons, as
        /// SHA-256 in hex (PostgreSQL's migration computes the same in SQL).
        func fingerprint(adapter: String) -> String {
            Hex.lowercase(SHA256.hash(data: Data((adapter + "\u{1F}" + record + "\u{1F}" + reasons).utf8)))
        }
    }

    /// The pull's quarantined records' reasons counted by rule (a record failing two rules counts
    /// under each), as the pull history keeps them: JSON, keys sorted.
    var quarantinedByRuleJSON: String {
        var counts: [String: Int] = [:]
        for record in quarantined { for rule in Set(record.reasons.map(\.rule)) { counts[rule, default: 0] += 1 } }
        let object = JSONValue.object(JSONObject(counts.mapValues { .number(Double($0)) }))
        return (try? String(decoding: object.canonicalData(), as: UTF8.self)) ?? "{}"
    }

    func quarantineRows() throws -> [QuarantineRow] {
        let reasonsEncoder = JSONEncoder()
        reasonsEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try quarantined.map { entry in
            func field(_ name: String) -> String? {
                guard case .object(let object) = entry.record, case .string(let text)? = object[name] else { return nil }
                return text
            }
            var seen = Set<String>()
            return QuarantineRow(
                record: String(decoding: try entry.record.canonicalData(), as: UTF8.self),
                reasons: String(decoding: try reasonsEncoder.encode(entry.reasons), as: UTF8.self),
                rules: entry.reasons.map(\.rule).filter { seen.insert($0).inserted },
                source: try entry.source.map { String(decoding: try $0.canonicalData(), as: UTF8.self) },
                indicator: field("indicator"), province: field("province"), level: field("level"), area: field("area"),
                period: field("period"))
        }
    }
}

/// How many reports, and observations in them.
public struct ReportTally: Sendable, Equatable {
    public var reports = 0
    public var observations = 0

    public init(reports: Int = 0, observations: Int = 0) {
        self.reports = reports
        self.observations = observations
    }

    public func adding(_ more: [SignedReport]) -> ReportTally {
        ReportTally(reports: reports + more.count, observations: observations + more.reduce(0) { $0 + $1.observationCount })
    }

    public func adding(_ other: ReportTally) -> ReportTally {
        ReportTally(reports: reports + other.reports, observations: observations + other.observations)
    }
}

public struct PullTotals: Sendable, Equatable {
    public var pulls: Int
    public var pulledRecords: Int
    public var validObservations: Int
    public var quarantined: Int
    public var reports: Int
    public var unchanged: Int = 0
    public var revisions: Int = 0
    public var skipped: Int = 0
}

public struct StoredQuarantine: Sendable, Equatable {
    public let id: Int64
    public let adapter: String
    public let record: String
    public let reasons: [QuarantineReason]
    public var quarantinedAt = Date(timeIntervalSince1970: 0)
    /// The last pull that met the record again, unchanged, with the same reasons.
    public var lastSeenAt = Date(timeIntervalSince1970: 0)
    /// Pulls that met it, the first included.
    public var timesSeen = 1
    /// The figure it is of, when it was a mapped observation.
    public var indicator: String?
    public var period: String?
    public var area: String?
    /// The source's record the observation was mapped from (JSON), when it was kept.
    public var source: String?

    public init(
        id: Int64, adapter: String, record: String, reasons: [QuarantineReason], quarantinedAt: Date = Date(timeIntervalSince1970: 0),
        lastSeenAt: Date? = nil, timesSeen: Int = 1, indicator: String? = nil, period: String? = nil, area: String? = nil,
        source: String? = nil
    ) {
        self.source = source
        self.id = id
        self.adapter = adapter
        self.record = record
        self.reasons = reasons
        self.quarantinedAt = quarantinedAt
        self.lastSeenAt = lastSeenAt ?? quarantinedAt
        self.timesSeen = timesSeen
        self.indicator = indicator
        self.period = period
        self.area = area
    }
}

/// Which quarantined records `quarantine list` and the console ask for; nil fields do not filter.
public struct QuarantineFilter: Sendable, Equatable {
    public var adapter: String?
    /// A reason's rule, such as `indicator.range`.
    public var rule: String?
    public var indicator: String?
    public var period: String?
    /// Records with an id below this one (the next page, newest first).
    public var before: Int64?

    public init(adapter: String? = nil, rule: String? = nil, indicator: String? = nil, period: String? = nil, before: Int64? = nil) {
        self.adapter = adapter
        self.rule = rule
        self.indicator = indicator
        self.period = period
        self.before = before
    }
}

/// What a commit did with the pull's quarantined records.
public struct CommitOutcome: Sendable, Equatable {
    /// Records not held before.
    public var newlyQuarantined = 0
    /// The positions, in the pull's `quarantined`, of records held already with the same content
    /// and reasons: counted, not stored again.
    public var alreadyHeld: Set<Int> = []
    public var stillQuarantined: Int { alreadyHeld.count }

    public init(newlyQuarantined: Int = 0, alreadyHeld: Set<Int> = []) {
        self.newlyQuarantined = newlyQuarantined
        self.alreadyHeld = alreadyHeld
    }
}

/// How one attempt at one report ended.
public struct CompletedAttempt: Sendable {
    public let reportID: String
    public let attempt: Int
    public let completion: DeliveryCompletion
    /// Whether the centre's signed receipt verified, when receipts are checked.
    public let receiptVerified: Bool?

    public init(reportID: String, attempt: Int, completion: DeliveryCompletion, receiptVerified: Bool? = nil) {
        self.reportID = reportID
        self.attempt = attempt
        self.completion = completion
        self.receiptVerified = receiptVerified
    }
}

/// The delivery outbox, as the forwarder uses it.
public protocol DeliveryOutbox: Sendable {
    /// Leases up to `limit` reports that are due, oldest first.
    func leaseDue(now: Date, limit: Int, leaseDuration: TimeInterval) async throws -> [LeasedReport]
    /// Records the outcomes of one batch request in one transaction. An outcome the report's state
    /// no longer admits (its lease was lost) is skipped, not allowed to undo the others; the ids
    /// skipped are returned with the reason.
    @discardableResult
    func complete(_ attempts: [CompletedAttempt], now: Date) async throws -> [(reportID: String, reason: String)]
    /// The earliest time a pending or leased report becomes due, if any.
    func nextDueDate() async throws -> Date?
}

extension DeliveryOutbox {
    /// One attempt's outcome; a transition the report's state does not admit is an error.
    public func complete(reportID: String, attempt: Int, with completion: DeliveryCompletion, now: Date) async throws {
        let skipped = try await complete([CompletedAttempt(reportID: reportID, attempt: attempt, completion: completion)], now: now)
        if let first = skipped.first { throw StoreError(first.reason) }
    }
}

/// The pull ledger, as the pull runner uses it: where each adapter's pulls left off, what they
/// stored, and how each ended.
public protocol PullLedger: Sendable {
    func cursor(for adapter: String) async throws -> String?
    /// Stores a pull's reports, quarantined records and new cursor in one transaction.
    /// Reports whose id is already stored are not stored again.
    @discardableResult
    func commit(_ pull: PullCommit, now: Date) async throws -> CommitOutcome
    /// Stores reports of a pull still under way, in one transaction, so they can be delivered
    /// before it ends; its cursor waits for its commit. Reports whose id is already stored are not
    /// stored again, and report ids come from the reports' content: a pull that fails after this
    /// and runs again from the old cursor stores nothing twice.
    func storeReports(_ reports: [SignedReport], adapter: String, now: Date) async throws
    /// Records how a pull of `adapter` ended (`error` nil for success) and when the next one is due.
    func recordPullOutcome(adapter: String, at time: Date, error: String?, nextRun: Date) async throws
}

/// What the gateway has sent of each figure (indicator × province × level × area × period): every
/// revision, the report that carried it and whether the centre accepted it. Written by the pull
/// ledger with the reports and by the outbox with their delivery; read by the pipeline, to send
/// revisions instead of repeats, and by the calendar and progress views.
public protocol FiguresLedger: Sendable {
    /// The latest revision recorded of each of `keys` that has one, whichever process recorded it.
    func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry]
    /// The same, where `otherWriters` may let the store skip looking for figures other processes
    /// recorded since its last lookup that looked for them.
    func latestRevisions(of keys: [FigureKey], otherWriters: OtherWritersSeen) async throws -> [FigureKey: LedgerEntry]
    /// Every revision of `key`, the first first.
    func revisions(of key: FigureKey) async throws -> [LedgerEntry]
    /// The latest revision of every figure, of one indicator or one period when given.
    func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry]
    /// What the centre holds of each figure: its highest revision whose report was accepted.
    func latestAcceptedFigures() async throws -> [LedgerEntry]
    /// For the calendar: each figure of `indicator` in one of `periods` the ledger holds, when it
    /// was first stored and first accepted, and its latest revision.
    func acceptance(indicator: String, periods: [String]) async throws -> [FigureKey: FigureAcceptance]
}

/// Which figures recorded by other processes a ledger lookup must see.
public enum OtherWritersSeen: Sendable {
    /// Every one committed before the lookup.
    case upToNow
    /// Those committed before this store's last `upToNow` lookup; a figure another process
    /// recorded for the first time since then may look new. A pull asks this after its first
    /// lookup, since a SQLite store sees other processes' writes only by asking its one writer
    /// connection, which a pull's every part then waited for behind deliveries and stores. A
    /// figure recorded meanwhile is the race a lookup and its write always had: the write refuses
    /// the same revision with another value (`LedgerConflict`, and the pull runs again); with the
    /// same value the figure goes once more under that revision, which the centre keeps as history.
    case upToLastCheck
}

extension FiguresLedger {
    /// For a store that sees every writer's figures at no extra cost.
    public func latestRevisions(of keys: [FigureKey], otherWriters: OtherWritersSeen) async throws -> [FigureKey: LedgerEntry] {
        try await latestRevisions(of: keys)
    }
}

/// Who runs an adapter's schedule when several gateways share a store.
public protocol ScheduleOwnership: Sendable {
    /// Runs `body` while this process owns `adapter`'s schedule, calling `whileWaiting` while
    /// another does; returns when `body` returns or the task is cancelled. `body` gets a check to
    /// make before each pull: false once ownership is lost, when `body` should return so that it
    /// is sought again. A store only one gateway uses owns every schedule at once.
    func withScheduleOwnership(
        of adapter: String, whileWaiting: () -> Void, _ body: (_ stillOwner: () async -> Bool) async -> Void
    ) async throws
}

/// The accepted figures added up as progress reads them, by the store itself: at ten years of a
/// hundred communes, handing every figure over took seconds.
public protocol FigureTotals: Sendable {
    /// Of each figure its latest accepted revision; at province level one total per province
    /// area and period, below it one per indicator, level and period.
    func acceptedTotals() async throws -> [ProgressReport.PeriodTotal]
}

/// The tamper-evident chain of delivered reports, for `audit verify`.
public protocol AuditLog: Sendable {
    /// The audit chain in sequence order.
    func auditLinks() async throws -> [AuditLink]
    /// The last link's sequence number (0 for none). A link is added in the transaction that
    /// marks a report's figures accepted, so a reader that computed something from the accepted
    /// figures knows from this alone whether it must compute it again.
    func auditLength() async throws -> Int64
}

/// What operators read and do to the outbox: `outbox`, `status`, the console.
public protocol OutboxAdministration: Sendable {
    func outboxStats(now: Date) async throws -> OutboxStats
    func entry(reportID: String) async throws -> OutboxEntry?
    /// Reports in `state` (every state when nil), oldest first.
    func entries(state: OutboxState?, limit: Int) async throws -> [OutboxEntry]
    /// Dead letter → pending, for `outbox retry`; with `includingPending`, a pending report is also
    /// made due now (`outbox retry --now`).
    func requeue(reportID: String, now: Date, includingPending: Bool) async throws
    /// Deletes a dead letter for good, for `outbox purge`; other states are refused.
    func purge(reportID: String) async throws
    /// The report exactly as it was (or will be) sent, for verification and export.
    func signedReport(reportID: String) async throws -> SignedReport?
    /// Records whether the centre's signed receipt for a report verified.
    func markReceipt(reportID: String, verified: Bool) async throws
}

extension OutboxAdministration {
    /// Dead letter → pending.
    public func requeue(reportID: String, now: Date) async throws {
        try await requeue(reportID: reportID, now: now, includingPending: false)
    }
}

/// What the pulls did, for `status`, the demo and the console.
public protocol PullHistory: Sendable {
    func pullTotals() async throws -> PullTotals
    func quarantined(limit: Int) async throws -> [StoredQuarantine]
    /// Quarantined records matching `filter`, newest first, at most `limit`.
    func quarantined(matching filter: QuarantineFilter, limit: Int) async throws -> [StoredQuarantine]
    func quarantinedRecord(id: Int64) async throws -> StoredQuarantine?
    /// When a record of each figure of `indicator` in one of `periods` was first quarantined, for
    /// the calendar; records whose figure could not be told (they failed mapping) are left out.
    func quarantinedFigures(indicator: String, periods: [String]) async throws -> [FigureKey: Date]
    /// What each adapter last did, as `status` shows it.
    func adapterStatuses() async throws -> [AdapterStatus]
    /// `adapter`'s latest pulls, newest first.
    func pulls(adapter: String, limit: Int) async throws -> [PullRecord]
}

/// One pull as the pull history keeps it.
public struct PullRecord: Sendable, Equatable {
    public var startedAt: Date
    public var finishedAt: Date
    public var records: Int
    public var valid: Int
    public var quarantined: Int
    public var reports: Int
    public var unchanged: Int
    public var revisions: Int
    public var skipped: Int
    /// Quarantined records by rule (a record failing two rules counts under each); empty for
    /// pulls stored before the history kept it.
    public var quarantinedByRule: [String: Int]

    public init(
        startedAt: Date, finishedAt: Date, records: Int, valid: Int, quarantined: Int, reports: Int, unchanged: Int, revisions: Int,
        skipped: Int, quarantinedByRule: [String: Int] = [:]
    ) {
        self.quarantinedByRule = quarantinedByRule
        (self.startedAt, self.finishedAt, self.records, self.valid, self.quarantined) = (startedAt, finishedAt, records, valid, quarantined)
        (self.reports, self.unchanged, self.revisions, self.skipped) = (reports, unchanged, revisions, skipped)
    }
}

/// One thing an operator did to the gateway's state: who, when, what, to what, and how it ended.
public struct OperatorAction: Sendable, Equatable, Codable {
    public var id: Int64 = 0
    public var at: Date
    /// The operator: a console user's name, or the account a command ran as (`sudo`'s caller).
    public var user: String
    /// Where it was done: `cli` or `console`.
    public var via: String
    /// `quarantine.purge`, `quarantine.reprocess`, `outbox.retry`, `outbox.purge`, …
    public var action: String
    /// What it touched: ids, or the filters that chose them.
    public var target: String
    public var outcome: String

    public init(at: Date, user: String, via: String, action: String, target: String, outcome: String) {
        self.at = at
        self.user = user
        self.via = via
        self.action = action
        self.target = target
        self.outcome = outcome
    }
}

/// The record of what operators did (`lgsp-gateway audit actions`, the console's audit page).
public protocol OperatorActions: Sendable {
    func record(_ action: OperatorAction) async throws
    /// Newest first, those with an id below `before` when given.
    func operatorActions(before: Int64?, limit: Int) async throws -> [OperatorAction]
}

/// What an operator does to quarantined records (`lgsp-gateway quarantine purge`).
public protocol QuarantineAdministration: Sendable {
    /// Deletes the records `ids` names that also match `filter`, or, with `ids` nil, every record
    /// that matches it; returns how many went.
    func purgeQuarantined(ids: [Int64]?, matching filter: QuarantineFilter) async throws -> Int
}

/// The store's own upkeep: at start-up, hourly, and on an operator's request.
public protocol StoreMaintenance: Sendable {
    /// Makes deliveries left in flight by a previous process due now; returns how many.
    func recoverInterruptedDeliveries(now: Date) async throws -> Int
    /// Deletes delivered reports older than `age`; their audit links stay. Returns how many.
    func pruneDelivered(olderThan age: TimeInterval, now: Date) async throws -> Int
    /// The store's own consistency check; its findings, empty when sound.
    func integrityCheck() async throws -> [String]
}

/// Whether the store can take what comes, for pulls and readiness.
public protocol StoreHealth: Sendable {
    /// Why new pulls must wait, if they must (the store is too large, its disk nearly full).
    /// Called before every pull, so it answers at once, from what the store last measured.
    func capacityProblem(minimumFreeBytes: Int64, maximumBytes: Int64) -> String?
    /// Whether the store can take writes now (for readiness checks).
    func isWritable() async -> Bool
    /// Where the store is, fit to print (a PostgreSQL URL without its password).
    var location: String { get }
}

/// The gateway's durable state, every role in one store (SQLite for one gateway, PostgreSQL for
/// several). Each user asks for the roles it needs, so a test double implements only those.
///
/// A store is a `Service`: its background work (PostgreSQL's connection pool) runs in `run()`,
/// in the gateway's service group or `withRunning(_:)`, and `close()` releases it.
public protocol GatewayStore: DeliveryOutbox, PullLedger, FiguresLedger, FigureTotals, ScheduleOwnership, AuditLog, OutboxAdministration,
    PullHistory,
    QuarantineAdministration, OperatorActions, StoreMaintenance,
    StoreHealth, Service
{
    /// Releases the store's files or connections; nothing may be asked of it afterwards.
    func close() async throws
}

extension GatewayStore {
    /// `body` with the store running, then the store stopped: for commands and tests that use a
    /// store outside the gateway's service group.
    public func withRunning<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.run() }
            do {
                let result = try await body()
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

/// Opens the store `location` names: a `postgres://` URL, or the path of a SQLite file.
public enum StoreLocation {
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// Whether a gateway process runs on the store at `location`: for SQLite, whether its
    /// owner's lock is held; nil for PostgreSQL, which several gateways share without one.
    public static func isInUse(_ location: String) -> Bool? {
        isPostgres(location) ? nil : SQLiteStore.isLocked(path: location)
    }

    /// `exclusive` asks a SQLite store for its owner's lock; several gateways share a PostgreSQL
    /// store, so it has none.
    public static func open(_ location: String, exclusive: Bool = true) throws -> any GatewayStore {
        if isPostgres(location) { return try PostgresStore(url: location) }
        return try SQLiteStore(path: location, exclusive: exclusive)
    }

    /// `body` with the store at `location` open and running, then closed: for commands run by hand.
    public static func withStore<T: Sendable>(_ location: String, exclusive: Bool = true, _ body: (any GatewayStore) async throws -> T)
        async throws -> T
    {
        let store = try open(location, exclusive: exclusive)
        do {
            let result = try await store.withRunning { try await body(store) }
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension PullRecord {
    /// `quarantined_by_rule` as a commit wrote it; nothing for a pull stored before the column.
    static func rules(_ json: String?) -> [String: Int] {
        guard let json, case .object(let object)? = try? JSONValue.parse(Data(json.utf8)) else { return [:] }
        var counts: [String: Int] = [:]
        for (rule, value) in object { if case .number(let count) = value { counts[rule] = Int(count) } }
        return counts
    }
}
