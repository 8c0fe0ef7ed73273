import GatewayContracts

/// The SQL of `FigureTotals.acceptedTotals()`, one text for both stores (standard casts only): of
/// each figure the latest revision the centre accepted, then added up as progress reads them.
enum FigureTotalsQuery {
    static let sql = """
        WITH latest AS (
            SELECT f.indicator, f.period, f.area, f.level, f.province, MAX(f.revision) AS revision
            FROM figures f JOIN figure_reports r USING (report_id)
            WHERE r.accepted_at IS NOT NULL
            GROUP BY f.indicator, f.period, f.area, f.level, f.province
        )
        SELECT f.indicator, f.level, f.period, CASE WHEN f.level = 'province' THEN f.area END AS place,
               CAST(MIN(f.value) AS DOUBLE PRECISION) AS value, CAST(COUNT(*) AS BIGINT) AS figures,
               CAST(SUM(COALESCE(f.numerator, 0)) AS DOUBLE PRECISION) AS numerators,
               CAST(SUM(COALESCE(f.denominator, 0)) AS DOUBLE PRECISION) AS denominators,
               CAST(SUM(CASE WHEN f.numerator IS NULL OR f.denominator IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS lacking
        FROM figures f JOIN latest l
          ON f.indicator = l.indicator AND f.period = l.period AND f.area = l.area AND f.level = l.level
             AND f.province = l.province AND f.revision = l.revision
        GROUP BY f.indicator, f.level, f.period, CASE WHEN f.level = 'province' THEN f.area END
        """
}
