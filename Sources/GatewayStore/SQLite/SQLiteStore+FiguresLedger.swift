import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: FiguresLedger {
    public func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] {
        guard !keys.isEmpty else { return [:] }
        return try await pool.read { db in
            let periods = ledgerPeriods.withLock { $0 }
            // Only the figures of periods the ledger has seen can have been sent before.
            let keys = keys.filter { periods.contains(Self.periodKey($0.indicator, $0.period)) }
            var found: [FigureKey: LedgerEntry] = [:]
            // Hundreds of keys a query, each found through the index; the statement for a full
            // chunk is prepared once per connection (preparing a thousand placeholders for every
            // chunk cost more than the lookups).
            for chunk in Array(Set(keys)).chunked(into: Self.keysPerLookup) where !chunk.isEmpty {
                var arguments: [(any DatabaseValueConvertible)?] = []
                arguments.reserveCapacity(chunk.count * 5)
                for key in chunk { arguments += [key.indicator, key.period, key.area, key.level.rawValue, key.province] }
                let statement = try db.cachedStatement(sql: Self.lookupSQL(keys: chunk.count))
                statement.setUncheckedArguments(StatementArguments(arguments))
                for row in try Row.fetchAll(statement) {
                    let entry = Self.ledgerEntry(from: row)
                    found[entry.key] = entry
                }
            }
            return found
        }
    }

    public func revisions(of key: FigureKey) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE f.indicator = ? AND f.period = ? AND f.area = ? AND f.level = ? AND f.province = ? ORDER BY f.revision
                    """, arguments: [key.indicator, key.period, key.area, key.level.rawValue, key.province]
            ).map(Self.ledgerEntry)
        }
    }

    public func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE (?1 IS NULL OR f.indicator = ?1) AND (?2 IS NULL OR f.period = ?2)
                      AND f.revision = (
                          SELECT MAX(revision) FROM figures g WHERE (g.indicator, g.period, g.area, g.level, g.province)
                              = (f.indicator, f.period, f.area, f.level, f.province))
                    ORDER BY f.indicator, f.province, f.level, f.area, f.period
                    """, arguments: [indicator, period]
            ).map(Self.ledgerEntry)
        }
    }

    public func latestAcceptedFigures() async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE r.accepted_at IS NOT NULL AND f.revision = (
                        SELECT MAX(g.revision) FROM figures g JOIN figure_reports s USING (report_id)
                        WHERE (g.indicator, g.period, g.area, g.level, g.province) = (f.indicator, f.period, f.area, f.level, f.province)
                          AND s.accepted_at IS NOT NULL)
                    ORDER BY f.indicator, f.province, f.level, f.area, f.period
                    """
            ).map(Self.ledgerEntry)
        }
    }

    public func acceptance(indicator: String, periods: [String]) async throws -> [FigureKey: FigureAcceptance] {
        guard !periods.isEmpty else { return [:] }
        return try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT f.indicator, f.province, f.level, f.area, f.period, MIN(r.stored_at) AS first_stored,
                           MIN(r.accepted_at) AS first_accepted, MAX(f.revision) AS latest, MAX(r.adapter) AS adapter
                    FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE f.indicator = ? AND f.period IN (\(Array(repeating: "?", count: periods.count).joined(separator: ", ")))
                    GROUP BY f.indicator, f.period, f.area, f.level, f.province
                    """, arguments: StatementArguments([indicator] + periods))
            var found: [FigureKey: FigureAcceptance] = [:]
            for row in rows {
                guard let level = AdministrativeLevel(rawValue: row["level"]) else { continue }
                let key = FigureKey(
                    indicator: row["indicator"], province: row["province"], level: level, area: row["area"], period: row["period"])
                found[key] = FigureAcceptance(
                    firstStoredAt: Date(timeIntervalSince1970: row["first_stored"]),
                    firstAcceptedAt: (row["first_accepted"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    latestRevision: row["latest"], adapter: row["adapter"])
            }
            return found
        }
    }

    /// Records the figures of a report just stored, in its transaction. A revision recorded
    /// already with the same value (a figure sent again on purpose) is kept as it was; with
    /// another value, a concurrent pull decided it first, and this report must not be stored.
    func recordFigures(of report: SignedReport, adapter: String, now: Date, in db: Database) throws {
        guard !report.figures.isEmpty else { return }
        let periods = Set(report.figures.map { Self.periodKey($0.key.indicator, $0.key.period) })
        ledgerPeriods.withLock { $0.formUnion(periods) }
        try db.cachedStatement(sql: "INSERT INTO figure_reports (report_id, adapter, stored_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [report.reportID, adapter, now.timeIntervalSince1970])
        // One prepared statement, its arguments given to `execute(arguments:)`: GRDB binds up to
        // twenty without copying them, where statements of many rows (or arguments set apart from
        // the execution) copied every string first and cost more than the insert.
        let insert = try db.cachedStatement(sql: Self.insertFigureSQL)
        for figure in report.figures {
            try insert.execute(arguments: Self.arguments(of: figure, reportID: report.reportID))
            guard db.changesCount == 0 else { continue }
            let existing = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT value, numerator, denominator, unit, report_id FROM figures
                        WHERE indicator = ? AND period = ? AND area = ? AND level = ? AND province = ? AND revision = ?
                        """),
                arguments: [
                    figure.key.indicator, figure.key.period, figure.key.area, figure.key.level.rawValue, figure.key.province,
                    figure.revision,
                ])
            if let existing, existing["report_id"] != report.reportID,
                FigureValue(
                    value: existing["value"], numerator: existing["numerator"], denominator: existing["denominator"],
                    unit: existing["unit"]) != figure.value
            {
                throw LedgerConflict(key: figure.key, revision: figure.revision, otherReportID: existing["report_id"])
            }
        }
    }

    static let insertFigureSQL = """
        INSERT INTO figures (revision, indicator, province, level, area, period, value, numerator, denominator, unit, report_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """

    static func periodKey(_ indicator: String, _ period: String) -> String { indicator + "|" + period }

    static let keysPerLookup = 200

    /// The keys as a table the query walks, seeking each in the index (a row-value IN list was
    /// read by scanning the ledger); the latest revision comes last.
    static func lookupSQL(keys: Int) -> String {
        """
        WITH wanted(indicator, period, area, level, province) AS (
            VALUES \(Array(repeating: "(?, ?, ?, ?, ?)", count: keys).joined(separator: ", "))
        )
        SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM wanted w
        CROSS JOIN figures f ON f.indicator = w.indicator AND f.period = w.period AND f.area = w.area
            AND f.level = w.level AND f.province = w.province
        JOIN figure_reports r ON r.report_id = f.report_id
        ORDER BY f.revision
        """
    }

    static func arguments(of figure: ReportedFigure, reportID: String) -> StatementArguments {
        [
            figure.revision, figure.key.indicator, figure.key.province, figure.key.level.rawValue,
            figure.key.area, figure.key.period, figure.value.value, figure.value.numerator, figure.value.denominator,
            figure.value.unit, reportID,
        ]
    }

    static func insertFigure(_ figure: ReportedFigure, reportID: String, in db: Database) throws {
        try db.cachedStatement(sql: insertFigureSQL).execute(arguments: arguments(of: figure, reportID: reportID))
    }

    static func ledgerEntry(from row: Row) -> LedgerEntry {
        LedgerEntry(
            key: FigureKey(
                indicator: row["indicator"], province: row["province"],
                level: AdministrativeLevel(rawValue: row["level"]) ?? .province, area: row["area"], period: row["period"]),
            revision: row["revision"],
            value: FigureValue(value: row["value"], numerator: row["numerator"], denominator: row["denominator"], unit: row["unit"]),
            reportID: row["report_id"], adapter: row["adapter"], storedAt: Date(timeIntervalSince1970: row["stored_at"]),
            acceptedAt: (row["accepted_at"] as Double?).map(Date.init(timeIntervalSince1970:)), receipt: row["receipt"])
    }
}

extension Array {
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
