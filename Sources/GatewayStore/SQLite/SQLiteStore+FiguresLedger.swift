import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: FiguresLedger {
    public func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] {
        guard !keys.isEmpty else { return [:] }
        return try await pool.read { db in
            // Nothing to look up in an empty ledger (a new store, the first pulls).
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM figures)") == true else { return [:] }
            var found: [FigureKey: LedgerEntry] = [:]
            let wanted = Dictionary(keys.map { ($0.stableHash, $0) }, uniquingKeysWith: { first, _ in first })
            // Hashes are integers, written into the statement: hundreds of keys in one query.
            for chunk in Array(wanted.keys).chunked(into: 500) {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM figures f
                        JOIN figure_reports r USING (report_id)
                        WHERE f.key_hash IN (\(chunk.map(String.init).joined(separator: ",")))
                        ORDER BY f.key_hash, f.revision
                        """)
                for row in rows {
                    let entry = Self.ledgerEntry(from: row)
                    // The hash matched; the key decides (a collision is a figure of its own).
                    guard wanted[row["key_hash"]] == entry.key else { continue }
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
                    WHERE f.key_hash = ? ORDER BY f.revision
                    """, arguments: [key.stableHash]
            ).map(Self.ledgerEntry).filter { $0.key == key }
        }
    }

    public func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.*, r.adapter, r.stored_at, r.accepted_at, r.receipt FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE (?1 IS NULL OR f.indicator = ?1) AND (?2 IS NULL OR f.period = ?2)
                      AND f.revision = (SELECT MAX(revision) FROM figures g WHERE g.key_hash = f.key_hash)
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
                        WHERE g.key_hash = f.key_hash AND s.accepted_at IS NOT NULL)
                    ORDER BY f.indicator, f.province, f.level, f.area, f.period
                    """
            ).map(Self.ledgerEntry)
        }
    }

    /// Records the figures of a report just stored, in its transaction. A revision recorded
    /// already with the same value (a figure sent again on purpose) is kept as it was; with
    /// another value, a concurrent pull decided it first, and this report must not be stored.
    static func recordFigures(of report: SignedReport, adapter: String, now: Date, in db: Database) throws {
        guard !report.figures.isEmpty else { return }
        try db.cachedStatement(sql: "INSERT INTO figure_reports (report_id, adapter, stored_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [report.reportID, adapter, now.timeIntervalSince1970])
        for figure in report.figures {
            try insertFigure(figure, reportID: report.reportID, in: db)
            guard db.changesCount == 0 else { continue }
            let existing = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT value, numerator, denominator, unit, report_id FROM figures WHERE key_hash = ? AND revision = ?"),
                arguments: [figure.key.stableHash, figure.revision])
            if let existing,
                FigureValue(
                    value: existing["value"], numerator: existing["numerator"], denominator: existing["denominator"],
                    unit: existing["unit"]) != figure.value
            {
                throw LedgerConflict(key: figure.key, revision: figure.revision, otherReportID: existing["report_id"])
            }
        }
    }

    static func insertFigure(_ figure: ReportedFigure, reportID: String, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO figures (key_hash, revision, indicator, province, level, area, period, value, numerator, denominator, unit,
                                     report_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """
        ).execute(arguments: [
            figure.key.stableHash, figure.revision, figure.key.indicator, figure.key.province, figure.key.level.rawValue,
            figure.key.area, figure.key.period, figure.value.value, figure.value.numerator, figure.value.denominator,
            figure.value.unit, reportID,
        ])
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
