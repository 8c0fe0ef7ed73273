import Foundation
import GRDB
import GRDBSQLite
import GatewayContracts

extension SQLiteStore: FiguresLedger {
    public func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] {
        try await latestRevisions(of: keys, otherWriters: .upToNow)
    }

    public func latestRevisions(of keys: [FigureKey], otherWriters: OtherWritersSeen) async throws -> [FigureKey: LedgerEntry] {
        guard !keys.isEmpty else { return [:] }
        if otherWriters == .upToNow || ledgerKeys.withLock({ $0 == nil }) { try await loadLedgerKeys() }
        // Only a figure whose hash the ledger holds can have been sent before. Tested under the
        // lock rather than on a copy, so a write meanwhile never copies the whole set.
        let keys = ledgerKeys.withLock { known in keys.filter { known?.keys.contains($0.stableHash) ?? true } }
        guard !keys.isEmpty else { return [:] }
        return try await pool.read { db in
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

    public func acceptedTotals() async throws -> [ProgressReport.PeriodTotal] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: FigureTotalsQuery.sql
            ).compactMap { row in
                guard let level = AdministrativeLevel(rawValue: row["level"]) else { return nil }
                return ProgressReport.PeriodTotal(
                    indicator: row["indicator"], level: level, period: row["period"], area: row["place"],
                    value: level == .province ? row["value"] : nil, figures: row["figures"], numerators: row["numerators"],
                    denominators: row["denominators"], lackingParts: row["lacking"])
            }
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

    /// Reads the hashes of the ledger's figures at the first lookup and after another process
    /// wrote the store, on the writer so that no figure this process records is missed while
    /// they are read (a read beside a write could miss that write's figures for good).
    func loadLedgerKeys() async throws {
        // On the writer, outside a transaction: serialized with this process's own writes, and
        // the scan is one statement, so it sees one state of the ledger.
        try await pool.writeWithoutTransaction { db in
            // Changed only by other connections' commits: this process writes through this one.
            let version = try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0
            guard ledgerKeys.withLock({ $0?.dataVersion != version }) else { return }
            var known = Set<Int64>()
            let rows = try Row.fetchCursor(db, sql: "SELECT indicator, province, level, area, period FROM figures")
            while let row = try rows.next() {
                let key = FigureKey(
                    indicator: row[0], province: row[1], level: AdministrativeLevel(rawValue: row[2]) ?? .province, area: row[3],
                    period: row[4])
                known.insert(key.stableHash)
            }
            ledgerKeys.withLock { $0 = (known, version) }
        }
    }

    /// Records the figures of a report just stored, in its transaction. A revision recorded
    /// already with the same value (a figure sent again on purpose) is kept as it was; with
    /// another value, a concurrent pull decided it first, and this report must not be stored.
    func recordFigures(of report: SignedReport, adapter: String, now: Date, in db: Database) throws {
        guard !report.figures.isEmpty else { return }
        // Before the rows, so that a lookup never misses a figure whose write may commit.
        ledgerKeys.withLock { known in
            for figure in report.figures { known?.keys.insert(figure.key.stableHash) }
        }
        try db.cachedStatement(sql: "INSERT INTO figure_reports (report_id, adapter, stored_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [report.reportID, adapter, now.timeIntervalSince1970])
        let insert = try db.cachedStatement(sql: Self.insertFigureSQL)
        for figure in try FigureInserter.insert(report.figures, reportID: report.reportID, with: insert, in: db) {
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

/// Writes a report's figures with one prepared statement bound through SQLite's own interface:
/// the text is bound in place, where GRDB's arguments boxed each of eleven values and SQLite
/// copied every string, about half the cost of recording a figure.
enum FigureInserter {
    /// Inserts each figure; returns those the table held already (same key and revision).
    static func insert(_ figures: [ReportedFigure], reportID: String, with statement: Statement, in db: Database) throws -> [ReportedFigure]
    {
        let handle = statement.sqliteStatement
        let connection = db.sqliteConnection
        var existing: [ReportedFigure] = []
        var reportID = reportID
        try reportID.withUTF8 { id in
            // Bound once: the report id is every row's. SQLITE_STATIC (a nil destructor): the bytes
            // stay where they are until the last step, and the bindings are cleared before they go.
            defer { sqlite3_clear_bindings(handle) }
            sqlite3_bind_text(handle, 11, id.baseAddress, Int32(id.count), nil)
            for figure in figures {
                sqlite3_bind_int64(handle, 1, Int64(figure.revision))
                sqlite3_bind_double(handle, 7, figure.value.value)
                if let numerator = figure.value.numerator {
                    sqlite3_bind_double(handle, 8, numerator)
                } else {
                    sqlite3_bind_null(handle, 8)
                }
                if let denominator = figure.value.denominator {
                    sqlite3_bind_double(handle, 9, denominator)
                } else {
                    sqlite3_bind_null(handle, 9)
                }
                var (indicator, province, level) = (figure.key.indicator, figure.key.province, figure.key.level.rawValue)
                var (area, period, unit) = (figure.key.area, figure.key.period, figure.value.unit)
                func bind(_ position: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
                    sqlite3_bind_text(handle, position, bytes.baseAddress, Int32(bytes.count), nil)
                }
                let code = indicator.withUTF8 { indicator in
                    province.withUTF8 { province in
                        level.withUTF8 { level in
                            area.withUTF8 { area in
                                period.withUTF8 { period in
                                    unit.withUTF8 { unit in
                                        bind(2, indicator)
                                        bind(3, province)
                                        bind(4, level)
                                        bind(5, area)
                                        bind(6, period)
                                        bind(10, unit)
                                        defer { sqlite3_reset(handle) }
                                        return sqlite3_step(handle)
                                    }
                                }
                            }
                        }
                    }
                }
                guard code == SQLITE_DONE else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) },
                        sql: SQLiteStore.insertFigureSQL)
                }
                if sqlite3_changes(connection) == 0 { existing.append(figure) }
            }
        }
        return existing
    }
}
