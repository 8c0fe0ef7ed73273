import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: PullHistory {
    public func adapterStatuses() async throws -> [AdapterStatus] {
        try await rows("SELECT * FROM adapter_status ORDER BY adapter").map { row in
            func date(_ column: String) throws -> Date? { try row[column].decode(Double?.self).map(Date.init(timeIntervalSince1970:)) }
            return AdapterStatus(
                adapter: try row["adapter"].decode(String.self), lastPull: try date("last_pull_at"),
                lastSuccess: try date("last_success_at"),
                lastError: try row["last_error"].decode(String?.self), lastErrorAt: try date("last_error_at"),
                nextRun: try date("next_run_at"))
        }
    }

    public func pulls(adapter: String, limit: Int) async throws -> [PullRecord] {
        try await rows(
            """
            SELECT started_at, finished_at, records::BIGINT, valid::BIGINT, quarantined::BIGINT, reports::BIGINT,
                   unchanged::BIGINT, revisions::BIGINT, skipped::BIGINT, quarantined_by_rule
            FROM pulls WHERE adapter = \(adapter) ORDER BY id DESC LIMIT \(limit)
            """
        ).map { row in
            func count(_ column: String) throws -> Int { Int(try row[column].decode(Int64.self)) }
            return PullRecord(
                startedAt: Date(timeIntervalSince1970: try row["started_at"].decode(Double.self)),
                finishedAt: Date(timeIntervalSince1970: try row["finished_at"].decode(Double.self)), records: try count("records"),
                valid: try count("valid"), quarantined: try count("quarantined"), reports: try count("reports"),
                unchanged: try count("unchanged"), revisions: try count("revisions"), skipped: try count("skipped"),
                quarantinedByRule: PullRecord.rules(try row["quarantined_by_rule"].decode(String?.self)))
        }
    }

    public func pullTotals() async throws -> PullTotals {
        let row = try await rows(
            """
            SELECT COUNT(*)::BIGINT AS pulls, COALESCE(SUM(records), 0)::BIGINT AS records, COALESCE(SUM(valid), 0)::BIGINT AS valid,
                   COALESCE(SUM(quarantined), 0)::BIGINT AS quarantined, COALESCE(SUM(reports), 0)::BIGINT AS reports,
                   COALESCE(SUM(unchanged), 0)::BIGINT AS unchanged, COALESCE(SUM(revisions), 0)::BIGINT AS revisions,
                   COALESCE(SUM(skipped), 0)::BIGINT AS skipped FROM pulls
            """)[0]
        return PullTotals(
            pulls: Int(try row["pulls"].decode(Int64.self)), pulledRecords: Int(try row["records"].decode(Int64.self)),
            validObservations: Int(try row["valid"].decode(Int64.self)), quarantined: Int(try row["quarantined"].decode(Int64.self)),
            reports: Int(try row["reports"].decode(Int64.self)), unchanged: Int(try row["unchanged"].decode(Int64.self)),
            revisions: Int(try row["revisions"].decode(Int64.self)), skipped: Int(try row["skipped"].decode(Int64.self)))
    }

    public func quarantinedFigures(indicator: String, periods: [String]) async throws -> [FigureKey: Date] {
        guard !periods.isEmpty else { return [:] }
        var found: [FigureKey: Date] = [:]
        let rows = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT province, level, area, period, MIN(quarantined_at) AS first FROM quarantine
                    WHERE indicator = $1 AND period = ANY($2::text[]) AND province IS NOT NULL AND level IS NOT NULL AND area IS NOT NULL
                    GROUP BY province, level, area, period
                    """, binds: try Self.binds(indicator, periods)))
        for row in rows {
            guard let level = AdministrativeLevel(rawValue: try row["level"].decode(String.self)) else { continue }
            let key = FigureKey(
                indicator: indicator, province: try row["province"].decode(String.self), level: level,
                area: try row["area"].decode(String.self), period: try row["period"].decode(String.self))
            found[key] = Date(timeIntervalSince1970: try row["first"].decode(Double.self))
        }
        return found
    }

    public func quarantined(limit: Int) async throws -> [StoredQuarantine] {
        try await rows("SELECT * FROM quarantine ORDER BY id LIMIT \(limit)").map(Self.storedQuarantine)
    }

    /// The condition `quarantined(matching:)` and `purgeQuarantined` share, with only the terms
    /// the filter sets (so the planner can use the indexes), and its binds; more binds follow.
    static func quarantineMatch(_ filter: QuarantineFilter) -> (sql: String, binds: PostgresBindings) {
        var terms = ["TRUE"]
        var binds = PostgresBindings()
        func add(_ term: (Int) -> String, _ value: String?) {
            guard let value else { return }
            binds.append(value, context: .default)
            terms.append(term(binds.count))
        }
        add({ "adapter = $\($0)" }, filter.adapter)
        add({ "id IN (SELECT quarantine_id FROM quarantine_rules WHERE rule = $\($0))" }, filter.rule)
        add({ "indicator = $\($0)" }, filter.indicator)
        add({ "period = $\($0)" }, filter.period)
        if let before = filter.before {
            binds.append(before, context: .default)
            terms.append("id < $\(binds.count)")
        }
        return (terms.joined(separator: " AND "), binds)
    }

    public func quarantined(matching filter: QuarantineFilter, limit: Int) async throws -> [StoredQuarantine] {
        var (sql, binds) = Self.quarantineMatch(filter)
        binds.append(Int64(limit), context: .default)
        return try await rows(
            PostgresQuery(unsafeSQL: "SELECT * FROM quarantine WHERE \(sql) ORDER BY id DESC LIMIT $\(binds.count)", binds: binds)
        ).map(Self.storedQuarantine)
    }

    public func quarantinedRecord(id: Int64) async throws -> StoredQuarantine? {
        try await rows("SELECT * FROM quarantine WHERE id = \(id)").first.map(Self.storedQuarantine)
    }

    static func storedQuarantine(_ row: PostgresRandomAccessRow) throws -> StoredQuarantine {
        let reasons = (try? JSONDecoder().decode([QuarantineReason].self, from: Data(try row["reasons"].decode(String.self).utf8))) ?? []
        let quarantinedAt = Date(timeIntervalSince1970: try row["quarantined_at"].decode(Double.self))
        return StoredQuarantine(
            id: try row["id"].decode(Int64.self), adapter: try row["adapter"].decode(String.self),
            record: try row["record"].decode(String.self), reasons: reasons, quarantinedAt: quarantinedAt,
            lastSeenAt: try row["last_seen_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            timesSeen: Int(try row["times_seen"].decode(Int32?.self) ?? 1), indicator: try row["indicator"].decode(String?.self),
            period: try row["period"].decode(String?.self), area: try row["area"].decode(String?.self),
            source: try row["source_record"].decode(String?.self))
    }
}

extension PostgresStore: QuarantineAdministration {
    public func purgeQuarantined(ids: [Int64]?, matching filter: QuarantineFilter) async throws -> Int {
        var (sql, binds) = Self.quarantineMatch(filter)
        if let ids {
            binds.append(ids, context: .default)
            sql += " AND id = ANY($\(binds.count))"
        }
        let deleted = try await rows(PostgresQuery(unsafeSQL: "DELETE FROM quarantine WHERE \(sql) RETURNING id", binds: binds))
        return deleted.count
    }
}
