/// RFC 4180 text, for the exports the command line and the console both offer.
public enum CSV {
    /// One field, quoted when it holds a delimiter, a quote or a line break.
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record, with its CRLF.
    public static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }
}

extension ProgressReport {
    /// The columns of `progress --csv` and the console's download, in order; `--json` has the same fields.
    public static let csvColumns: [(name: String, text: @Sendable (Row) -> String)] = [
        ("indicator", \.indicator), ("name_vi", \.nameVI), ("unit", \.unit), ("set_by", \.setBy), ("set_by_code", \.setByCode),
        ("now_under", { $0.nowUnder ?? "" }), ("level", \.level.rawValue), ("target_year", { $0.targetYear.map(String.init) ?? "" }),
        ("target", \.targetText), ("baseline", { $0.baselineValue.map(SemanticRules.show) ?? "" }),
        ("baseline_year", { $0.baselineYear.map(String.init) ?? "" }), ("latest", { $0.latestValue.map(SemanticRules.show) ?? "" }),
        ("latest_period", { $0.latestPeriod ?? "" }), ("latest_figures", { String($0.latestFigures) }),
        ("path", { $0.pathValue.map { SemanticRules.show(($0 * 100).rounded() / 100) } ?? "" }),
        ("status", \.status.rawValue),
    ]

    /// The whole table as CSV, header first.
    public var csv: String {
        CSV.line(Self.csvColumns.map(\.name)) + rows.map { row in CSV.line(Self.csvColumns.map { $0.text(row) }) }.joined()
    }
}
