import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: PullHistory {
    public func pullTotals() async throws -> PullTotals {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS pulls, COALESCE(SUM(records), 0) AS records, COALESCE(SUM(valid), 0) AS valid,
                           COALESCE(SUM(quarantined), 0) AS quarantined, COALESCE(SUM(reports), 0) AS reports,
                           COALESCE(SUM(unchanged), 0) AS unchanged, COALESCE(SUM(revisions), 0) AS revisions,
                           COALESCE(SUM(skipped), 0) AS skipped FROM pulls
                    """)!
            return PullTotals(
                pulls: row["pulls"], pulledRecords: row["records"], validObservations: row["valid"],
                quarantined: row["quarantined"], reports: row["reports"], unchanged: row["unchanged"], revisions: row["revisions"],
                skipped: row["skipped"])
        }
    }

    public func pulls(adapter: String, limit: Int) async throws -> [PullRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM pulls WHERE adapter = ? ORDER BY id DESC LIMIT ?", arguments: [adapter, limit]).map {
                PullRecord(
                    startedAt: Date(timeIntervalSince1970: $0["started_at"]), finishedAt: Date(timeIntervalSince1970: $0["finished_at"]),
                    records: $0["records"], valid: $0["valid"], quarantined: $0["quarantined"], reports: $0["reports"],
                    unchanged: $0["unchanged"], revisions: $0["revisions"], skipped: $0["skipped"],
                    quarantinedByRule: PullRecord.rules($0["quarantined_by_rule"]))
            }
        }
    }

    public func quarantined(limit: Int) async throws -> [StoredQuarantine] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM quarantine ORDER BY id LIMIT ?", arguments: [limit]).map(Self.storedQuarantine)
        }
    }

    public func quarantined(matching filter: QuarantineFilter, limit: Int) async throws -> [StoredQuarantine] {
        try await pool.read { db in
            let page = Self.quarantinePage(filter)
            return try Row.fetchAll(db, sql: page.sql, arguments: StatementArguments(page.arguments + [limit])).map(Self.storedQuarantine)
        }
    }

    /// The condition `quarantined(matching:)` and `purgeQuarantined` share, with only the terms
    /// the filter sets: a term like `(? IS NULL OR indicator = ?)` keeps SQLite from the index,
    /// and a filtered page of a million records took half a second.
    static func quarantineMatch(_ filter: QuarantineFilter) -> (sql: String, arguments: [(any DatabaseValueConvertible)?]) {
        var terms = ["1"]
        var arguments: [(any DatabaseValueConvertible)?] = []
        func add(_ term: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            terms.append(term)
            arguments.append(value)
        }
        add("adapter = ?", filter.adapter)
        add("id IN (SELECT quarantine_id FROM quarantine_rules WHERE rule = ?)", filter.rule)
        add("indicator = ?", filter.indicator)
        add("period = ?", filter.period)
        add("id < ?", filter.before)
        return (terms.joined(separator: " AND "), arguments)
    }

    /// A page of `quarantined(matching:)`, its statement and arguments but the limit: by a rule,
    /// walked down the rules table's key (the rule, then the record, newest first), which finds a
    /// rare rule's fifty without reading the others.
    static func quarantinePage(_ filter: QuarantineFilter) -> (sql: String, arguments: [(any DatabaseValueConvertible)?]) {
        guard let rule = filter.rule else {
            let match = quarantineMatch(filter)
            return ("SELECT * FROM quarantine WHERE \(match.sql) ORDER BY id DESC LIMIT ?", match.arguments)
        }
        var rest = filter
        rest.rule = nil
        rest.before = nil
        let match = quarantineMatch(rest)
        return (
            """
            SELECT quarantine.* FROM quarantine_rules JOIN quarantine ON quarantine.id = quarantine_rules.quarantine_id
            WHERE quarantine_rules.rule = ?\(filter.before == nil ? "" : " AND quarantine_rules.quarantine_id < ?")
              AND \(match.sql)
            ORDER BY quarantine_rules.quarantine_id DESC LIMIT ?
            """,
            [rule] + (filter.before.map { [$0] } ?? []) + match.arguments
        )
    }

    public func quarantinedRecord(id: Int64) async throws -> StoredQuarantine? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM quarantine WHERE id = ?", arguments: [id]).map(Self.storedQuarantine)
        }
    }

    static func storedQuarantine(_ row: Row) -> StoredQuarantine {
        let reasonsText: String = row["reasons"]
        let reasons = (try? JSONDecoder().decode([QuarantineReason].self, from: Data(reasonsText.utf8))) ?? []
        let quarantinedAt = Date(timeIntervalSince1970: row["quarantined_at"])
        return StoredQuarantine(
            id: row["id"], adapter: row["adapter"], record: row["record"], reasons: reasons, quarantinedAt: quarantinedAt,
            lastSeenAt: (row["last_seen_at"] as Double?).map(Date.init(timeIntervalSince1970:)), timesSeen: row["times_seen"] ?? 1,
            indicator: row["indicator"], period: row["period"], area: row["area"], source: row["source_record"])
    }

    public func quarantinedFigures(indicator: String, periods: [String]) async throws -> [FigureKey: Date] {
        guard !periods.isEmpty else { return [:] }
        return try await pool.read { db in
            var found: [FigureKey: Date] = [:]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT province, level, area, period, MIN(quarantined_at) AS first FROM quarantine
                    WHERE indicator = ? AND period IN (\(Array(repeating: "?", count: periods.count).joined(separator: ", ")))
                      AND province IS NOT NULL AND level IS NOT NULL AND area IS NOT NULL
                    GROUP BY province, level, area, period
                    """, arguments: StatementArguments([indicator] + periods))
            for row in rows {
                guard let level = AdministrativeLevel(rawValue: row["level"]) else { continue }
                found[FigureKey(indicator: indicator, province: row["province"], level: level, area: row["area"], period: row["period"])] =
                    Date(timeIntervalSince1970: row["first"])
            }
            return found
        }
    }

    /// What each adapter last did, as `status` shows it.
    public func adapterStatuses() async throws -> [AdapterStatus] {
        try await pool.read { db in
            func date(_ row: Row, _ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
            return try Row.fetchAll(db, sql: "SELECT * FROM adapter_status ORDER BY adapter").map { row in
                AdapterStatus(
                    adapter: row["adapter"], lastPull: date(row, "last_pull_at"), lastSuccess: date(row, "last_success_at"),
                    lastError: row["last_error"], lastErrorAt: date(row, "last_error_at"), nextRun: date(row, "next_run_at"))
            }
        }
    }
}

extension SQLiteStore: QuarantineAdministration {
    public func purgeQuarantined(ids: [Int64]?, matching filter: QuarantineFilter) async throws -> Int {
        let chosen = try ids.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await pool.write { db in
            let match = Self.quarantineMatch(filter)
            try db.execute(
                sql: "DELETE FROM quarantine WHERE \(match.sql)" + (chosen == nil ? "" : " AND id IN (SELECT value FROM json_each(?))"),
                arguments: StatementArguments(match.arguments + (chosen.map { [$0] } ?? [])))
            return db.changesCount
        }
    }
}
