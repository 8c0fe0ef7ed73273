import Foundation
import GatewayConfig
import GatewayContracts

/// An adapter file as read: the adapter, and the figures its source is responsible for.
public struct AdapterFile: Sendable {
    public let spec: AdapterSpec
    public let file: String
    public let expectations: [DeclaredExpectation]
}

/// One entry of an adapter file's `expects:`, with where it was written, so that what the catalogue
/// refuses (an unknown indicator, a level it is not reported at) is reported at its line.
///
/// ```yaml
/// expects:
///   - indicator: HSCV_DIEN_TU
///     level: province
///   - indicator: HSCV_DIEN_TU
///     level: commune
///     areas_file: qlvb-documents/communes.txt   # one five-digit code a line, # for comments
///     from: 2025-Q3
/// ```
public struct DeclaredExpectation: Sendable {
    public let expectation: FigureExpectation
    public let file: String
    public let line: Int?
    /// `expects[0]`.
    public let field: String

    static func parse(_ value: ConfigValue, adapter: String, file: String) -> [DeclaredExpectation] {
        guard !value.items.isEmpty else {
            value.report("expected a list of the figures this source is responsible for (indicator, level, areas)")
            return []
        }
        return value.items.compactMap { item in
            item.allowOnly(["indicator", "level", "areas", "areas_file", "periods", "from"])
            guard let indicator = item.string("indicator"), let levelText = item.string("level") else { return nil }
            guard let level = AdministrativeLevel(rawValue: levelText) else {
                item["level"]?.report("unknown level \"\(levelText)\"; known: province, district, commune")
                return nil
            }
            var areas: [String]?
            if let list = item["areas"] {
                areas = list.items.compactMap(\.text)
                if list.items.isEmpty { list.report("expected a list of area codes") }
            }
            if let path = item.path("areas_file", required: false) {
                if areas != nil { item["areas_file"]?.report("give areas or areas_file, not both") }
                areas = readAreas(path, at: item["areas_file"])
            }
            switch (level, areas) {
            case (.province, .some):
                item["areas"]?.report("a province-level figure's only area is the province; leave areas out")
                item["areas_file"]?.report("a province-level figure's only area is the province; leave areas_file out")
            case (.commune, nil), (.district, nil):
                item.report(
                    "a \(level.rawValue)-level expectation needs areas or areas_file (the codes of the \(level.rawValue)s expected)")
            case (.commune, .some(let codes)), (.district, .some(let codes)):
                let digits = level == .commune ? 5 : 3
                if let wrong = codes.first(where: { $0.count != digits || !$0.allSatisfy(\.isASCII) || !$0.allSatisfy(\.isNumber) }) {
                    (item["areas"] ?? item["areas_file"] ?? item).report("\(level.rawValue) code \"\(wrong)\" must have \(digits) digits")
                }
                if Set(codes).count != codes.count { (item["areas"] ?? item["areas_file"] ?? item).report("an area code is listed twice") }
            default:
                break
            }
            var kinds: [ReportingPeriod.Kind]?
            if let periods = item["periods"] {
                kinds = periods.items.compactMap { kindItem in
                    guard let text = kindItem.text else { return nil }
                    guard let kind = ReportingPeriod.Kind(rawValue: text) else {
                        kindItem.report("unknown kind of period \"\(text)\"; known: year, half, quarter, month")
                        return nil
                    }
                    return kind
                }
            }
            var from: ReportingPeriod?
            if let text = item.optionalString("from") {
                from = ReportingPeriod(text)
                if from == nil { item["from"]?.report("expected a period such as 2025, 2025-H1, 2025-Q3 or 2025-11, found \"\(text)\"") }
            }
            return DeclaredExpectation(
                expectation: FigureExpectation(
                    adapter: adapter, indicator: indicator, level: level, areas: areas, kinds: kinds, from: from),
                file: file, line: item.line, field: item.path)
        }
    }

    /// One code a line; blank lines and `#` comments skipped, a CSV's first column taken.
    static func readAreas(_ path: String, at value: ConfigValue?) -> [String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            value?.report("cannot read \(path)")
            return nil
        }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let field = code.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = field.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
    }
}
