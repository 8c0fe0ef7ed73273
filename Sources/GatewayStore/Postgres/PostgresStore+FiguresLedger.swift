import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: FiguresLedger {
    static let ledgerColumns = """
        f.revision, f.indicator, f.province, f.level, f.area, f.period, f.value, f.numerator, f.denominator, f.unit,
        f.report_id, r.adapter, r.stored_at, r.accepted_at, r.receipt
        """

    public func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] {
        guard !keys.isEmpty else { return [:] }
        let unique = Array(Set(keys))
        // One query for all of them: a round trip per figure would cost more than the pull.
        let rows = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT DISTINCT ON (f.indicator, f.period, f.area, f.level, f.province) \(Self.ledgerColumns)
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(indicator, period, area, level, province)
                    JOIN figures f USING (indicator, period, area, level, province) JOIN figure_reports r USING (report_id)
                    ORDER BY f.indicator, f.period, f.area, f.level, f.province, f.revision DESC
                    """,
                binds: try Self.binds(
                    unique.map(\.indicator), unique.map(\.period), unique.map(\.area), unique.map(\.level.rawValue),
                    unique.map(\.province))))
        var found: [FigureKey: LedgerEntry] = [:]
        for row in rows {
            let entry = try Self.ledgerEntry(from: row)
            found[entry.key] = entry
        }
        return found
    }

    public func revisions(of key: FigureKey) async throws -> [LedgerEntry] {
        try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.ledgerColumns) FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE f.indicator = $1 AND f.period = $2 AND f.area = $3 AND f.level = $4 AND f.province = $5 ORDER BY f.revision
                    """, binds: try Self.binds(key.indicator, key.period, key.area, key.level.rawValue, key.province))
        ).map(Self.ledgerEntry)
    }

    public func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry] {
        let rows = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT * FROM (
                        SELECT DISTINCT ON (f.indicator, f.period, f.area, f.level, f.province) \(Self.ledgerColumns)
                        FROM figures f JOIN figure_reports r USING (report_id)
                        WHERE ($1::text IS NULL OR f.indicator = $1) AND ($2::text IS NULL OR f.period = $2)
                        ORDER BY f.indicator, f.period, f.area, f.level, f.province, f.revision DESC
                    ) latest ORDER BY indicator, province, level, area, period
                    """, binds: try Self.binds(indicator, period)))
        return try rows.map(Self.ledgerEntry)
    }

    public func acceptedTotals() async throws -> [ProgressReport.PeriodTotal] {
        try await rows(
            PostgresQuery(
                unsafeSQL: FigureTotalsQuery.sql)
        ).compactMap { row in
            guard let level = AdministrativeLevel(rawValue: try row["level"].decode(String.self)) else { return nil }
            return ProgressReport.PeriodTotal(
                indicator: try row["indicator"].decode(String.self), level: level, period: try row["period"].decode(String.self),
                area: try row["place"].decode(String?.self), value: level == .province ? try row["value"].decode(Double?.self) : nil,
                figures: Int(try row["figures"].decode(Int64.self)), numerators: try row["numerators"].decode(Double.self),
                denominators: try row["denominators"].decode(Double.self), lackingParts: Int(try row["lacking"].decode(Int64.self)))
        }
    }

    public func latestAcceptedFigures() async throws -> [LedgerEntry] {
        try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT * FROM (
                        SELECT DISTINCT ON (f.indicator, f.period, f.area, f.level, f.province) \(Self.ledgerColumns)
                        FROM figures f JOIN figure_reports r USING (report_id)
                        WHERE r.accepted_at IS NOT NULL ORDER BY f.indicator, f.period, f.area, f.level, f.province, f.revision DESC
                    ) latest ORDER BY indicator, province, level, area, period
                    """)
        ).map(Self.ledgerEntry)
    }

    public func acceptance(indicator: String, periods: [String]) async throws -> [FigureKey: FigureAcceptance] {
        guard !periods.isEmpty else { return [:] }
        let rows = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT f.province, f.level, f.area, f.period, MIN(r.stored_at) AS first_stored,
                           MIN(r.accepted_at) AS first_accepted, MAX(f.revision) AS latest, MAX(r.adapter) AS adapter
                    FROM figures f JOIN figure_reports r USING (report_id)
                    WHERE f.indicator = $1 AND f.period = ANY($2::text[])
                    GROUP BY f.indicator, f.period, f.area, f.level, f.province
                    """, binds: try Self.binds(indicator, periods)))
        var found: [FigureKey: FigureAcceptance] = [:]
        for row in rows {
            guard let level = AdministrativeLevel(rawValue: try row["level"].decode(String.self)) else { continue }
            let key = FigureKey(
                indicator: indicator, province: try row["province"].decode(String.self), level: level,
                area: try row["area"].decode(String.self), period: try row["period"].decode(String.self))
            found[key] = FigureAcceptance(
                firstStoredAt: Date(timeIntervalSince1970: try row["first_stored"].decode(Double.self)),
                firstAcceptedAt: try row["first_accepted"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                latestRevision: Int(try row["latest"].decode(Int32.self)), adapter: try row["adapter"].decode(String.self))
        }
        return found
    }

    /// A report's figures in one statement, then one query for a revision another report
    /// recorded meanwhile with another value (see `LedgerConflict`).
    static func insertFigures(_ figures: [ReportedFigure], reportID: String, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        // Arrays bind no NULL element here, so a missing numerator or denominator travels as NaN
        // (never a figure's value: numbers from sources are finite) and becomes NULL again.
        let binds = try Self.binds(
            figures.map { Int32($0.revision) }, figures.map(\.key.indicator), figures.map(\.key.province),
            figures.map(\.key.level.rawValue), figures.map(\.key.area), figures.map(\.key.period), figures.map(\.value.value),
            figures.map { $0.value.numerator ?? .nan }, figures.map { $0.value.denominator ?? .nan }, figures.map(\.value.unit),
            reportID)
        let given = """
            unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
                   $9::float8[], $10::text[])
                AS n(revision, indicator, province, level, area, period, value, numerator, denominator, unit)
            """
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO figures (revision, indicator, province, level, area, period, value, numerator, denominator, unit,
                                         report_id)
                    SELECT revision, indicator, province, level, area, period, value, NULLIF(numerator, 'NaN'),
                           NULLIF(denominator, 'NaN'), unit, $11 FROM \(given)
                    ON CONFLICT DO NOTHING
                    """, binds: binds), logger: logger)
        let conflicts = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT f.indicator, f.province, f.level, f.area, f.period, f.revision, f.report_id FROM \(given)
                    JOIN figures f USING (indicator, period, area, level, province, revision)
                    WHERE f.report_id <> $11
                      AND (f.value, f.numerator, f.denominator, f.unit)
                          IS DISTINCT FROM (n.value, NULLIF(n.numerator, 'NaN'), NULLIF(n.denominator, 'NaN'), n.unit)
                    LIMIT 1
                    """, binds: binds), logger: logger
        ).collect()
        if let conflict = conflicts.first?.makeRandomAccess() {
            throw LedgerConflict(
                key: FigureKey(
                    indicator: try conflict["indicator"].decode(String.self), province: try conflict["province"].decode(String.self),
                    level: AdministrativeLevel(rawValue: try conflict["level"].decode(String.self)) ?? .province,
                    area: try conflict["area"].decode(String.self), period: try conflict["period"].decode(String.self)),
                revision: Int(try conflict["revision"].decode(Int32.self)), otherReportID: try conflict["report_id"].decode(String.self))
        }
    }

    static func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { try bindings.append(value, context: .default) }
        return bindings
    }

    static func binds(_ first: String?, _ second: String?) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(first, context: .default)
        bindings.append(second, context: .default)
        return bindings
    }

    static func ledgerEntry(from row: PostgresRandomAccessRow) throws -> LedgerEntry {
        LedgerEntry(
            key: FigureKey(
                indicator: try row["indicator"].decode(String.self), province: try row["province"].decode(String.self),
                level: AdministrativeLevel(rawValue: try row["level"].decode(String.self)) ?? .province,
                area: try row["area"].decode(String.self), period: try row["period"].decode(String.self)),
            revision: Int(try row["revision"].decode(Int32.self)),
            value: FigureValue(
                value: try row["value"].decode(Double.self), numerator: try row["numerator"].decode(Double?.self),
                denominator: try row["denominator"].decode(Double?.self), unit: try row["unit"].decode(String.self)),
            reportID: try row["report_id"].decode(String.self), adapter: try row["adapter"].decode(String.self),
            storedAt: Date(timeIntervalSince1970: try row["stored_at"].decode(Double.self)),
            acceptedAt: try row["accepted_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            receipt: try row["receipt"].decode(String?.self))
    }
}
