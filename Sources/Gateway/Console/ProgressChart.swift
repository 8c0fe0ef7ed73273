import Foundation
import GatewayContracts
import GatewayStore

/// The progress page's charts: SVG drawn on the server, one per indicator and level with a target
/// for the province: the accepted values over the periods, the baseline and each target year's
/// target. Lines differ by dash as well as colour, so a black-and-white print tells them apart.
enum ProgressChart {
    /// The rows one chart draws: one indicator at one level, as one province's resolution set it.
    static func group(_ row: ProgressReport.Row) -> String { "\(row.indicator)|\(row.level.rawValue)|\(row.setByCode)" }

    static func charts(
        report: ProgressReport, series: [String: [(period: ReportingPeriod, value: Double)]], language: ConsoleLanguage,
        text: [String: String]
    ) -> [[String: Any]] {
        let grouped = Dictionary(grouping: report.rows, by: group)
        return grouped.sorted(by: { $0.key < $1.key }).compactMap { key, rows in
            // An indicator with nothing accepted yet is a row of the table ("no data"), not an empty chart.
            guard let first = rows.first, let points = series[key], !points.isEmpty else { return nil }
            return [
                "indicator": first.indicator, "name": (language == .vi ? first.nameVI : first.nameEN) + " (\(first.level.rawValue))",
                "svg": svg(rows: rows, series: points, text: text),
            ]
        }
    }

    /// Where a period ends, in years: a value is drawn where its period ends, a target at the end of its year.
    static func position(_ period: ReportingPeriod) -> Double { Double(period.year) + Double(period.months.upperBound) / 12 }

    static func svg(rows: [ProgressReport.Row], series: [(period: ReportingPeriod, value: Double)], text: [String: String]) -> String {
        let (width, height, left, right, top, bottom) = (640.0, 260.0, 56.0, 16.0, 16.0, 40.0)
        let first = rows[0]
        let targets = rows.compactMap { row -> (year: Int, value: Double, label: String)? in
            guard let year = row.targetYear, let value = row.targetValue ?? row.targetMax ?? row.targetMin else { return nil }
            return (year, value, row.targetText)
        }
        let baseline = first.baselineValue.map { (year: first.baselineYear ?? 2020, value: $0) }
        var xs = series.map { position($0.period) } + targets.map { Double($0.year + 1) }
        if let baseline { xs.append(Double(baseline.year + 1)) }
        let values = series.map(\.value) + targets.map(\.value) + (baseline.map { [$0.value] } ?? [])
        guard let minX = xs.min(), let maxX = xs.max(), let maxValue = values.max() else {
            return "<p>\(escape(text["progress_no_data"] ?? ""))</p>"
        }
        let isPercent = first.unit == "percent"
        let top100 = isPercent ? 100.0 : max(maxValue * 1.1, 1)
        let (x0, x1) = (floor(minX) - 0.25, ceil(maxX) + 0.25)
        func x(_ value: Double) -> Double { left + (value - x0) / (x1 - x0) * (width - left - right) }
        func y(_ value: Double) -> Double { top + (1 - value / top100) * (height - top - bottom) }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        var parts: [String] = []
        parts.append(
            ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \##(Int(width)) \##(Int(height))" role="img" aria-label="\##(escape(first.indicator))" font-family="sans-serif" font-size="11">"##
        )
        parts.append(##"<rect x="0" y="0" width="\##(Int(width))" height="\##(Int(height))" fill="#fff"/>"##)
        for step in 0...4 {
            let value = top100 * Double(step) / 4
            parts.append(
                ##"<line x1="\##(number(left))" y1="\##(number(y(value)))" x2="\##(number(width - right))" y2="\##(number(y(value)))" stroke="#ddd"/><text x="\##(number(left - 6))" y="\##(number(y(value) + 4))" text-anchor="end">\##(String(format: "%g", (value * 100).rounded() / 100))</text>"##
            )
        }
        for year in Int(ceil(x0))..<Int(floor(x1)) {
            parts.append(
                ##"<text x="\##(number(x(Double(year) + 0.5)))" y="\##(number(height - bottom + 16))" text-anchor="middle">\##(year)</text><line x1="\##(number(x(Double(year))))" y1="\##(number(height - bottom))" x2="\##(number(x(Double(year))))" y2="\##(number(height - bottom + 4))" stroke="#666"/>"##
            )
        }
        if let baseline {
            parts.append(
                ##"<line x1="\##(number(left))" y1="\##(number(y(baseline.value)))" x2="\##(number(width - right))" y2="\##(number(y(baseline.value)))" stroke="#777" stroke-dasharray="2 3"/><text x="\##(number(left + 4))" y="\##(number(y(baseline.value) - 4))" fill="#555">\##(escape(text["baseline"] ?? "")) \##(baseline.year): \##(SemanticRules.show(baseline.value))</text>"##
            )
        }
        for target in targets {
            let (tx, ty) = (x(Double(target.year + 1)), y(target.value))
            parts.append(
                ##"<path d="M \##(number(tx - 6)) \##(number(ty)) L \##(number(tx)) \##(number(ty - 6)) L \##(number(tx + 6)) \##(number(ty)) L \##(number(tx)) \##(number(ty + 6)) Z" fill="none" stroke="#a4161a" stroke-width="2"/><text x="\##(number(tx - 8))" y="\##(number(ty - 9))" text-anchor="end" fill="#a4161a">\##(escape(text["target"] ?? "")) \##(target.year): \##(escape(target.label))</text>"##
            )
        }
        if !series.isEmpty {
            let points = series.map { "\(number(x(position($0.period)))),\(number(y($0.value)))" }.joined(separator: " ")
            parts.append(##"<polyline points="\##(points)" fill="none" stroke="#0b3d62" stroke-width="2"/>"##)
            for point in series {
                parts.append(
                    ##"<circle cx="\##(number(x(position(point.period))))" cy="\##(number(y(point.value)))" r="3" fill="#0b3d62"><title>\##(point.period): \##(SemanticRules.show(point.value))</title></circle>"##
                )
            }
        }
        parts.append(
            ##"<text x="\##(number(left))" y="\##(number(height - 6))" fill="#0b3d62">● \##(escape(text["chart_accepted"] ?? ""))  </text><text x="\##(number(width - right))" y="\##(number(height - 6))" text-anchor="end" fill="#a4161a">◇ \##(escape(text["target"] ?? ""))</text>"##
        )
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;"
        )
        .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
