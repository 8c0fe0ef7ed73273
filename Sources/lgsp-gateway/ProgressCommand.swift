import ArgumentParser
import Foundation
import Gateway
import GatewayContracts
import GatewayJSON
import GatewayStore

/// `progress`: the province against its resolution's targets, from the figures the centre accepted.
struct Progress: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "For each target the province's resolution sets: baseline, latest accepted value, target, and met or on track.",
        discussion: """
            Reads the figures ledger of the store (what the centre accepted) and the catalogue's targets. A target \
            not yet due is "on_track" when the latest value is at or past the straight path from the baseline to \
            the target, "behind" otherwise; "=" counts within 0.5%, "about" (khoảng) within 10%. Targets set by a \
            province merged in 2025 are shown under the province that set them and the one they now fall under.
            """)

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Print the table as CSV (RFC 4180), one line per target.") var csv = false
    @Option(help: "Judge as on this day (yyyy-mm-dd) rather than today.") var asOf: String?

    func validate() throws {
        if json && csv { throw ValidationError("give --json or --csv, not both") }
        if let asOf, Timestamps.parse(asOf + "T00:00:00+07:00") == nil {
            throw ValidationError("--as-of \(asOf): expected a day as yyyy-mm-dd")
        }
    }

    func run() async throws {
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        let today = asOf.flatMap { Timestamps.parse($0 + "T23:59:59+07:00") } ?? Date()
        let totals = try await StoreLocation.withStore(loaded.configuration.store.location, exclusive: false) { store in
            try await store.acceptedTotals()
        }
        let report = ProgressReport.compute(
            catalogue: loaded.contracts.catalogue, province: loaded.configuration.gateway.province, totals: totals, today: today)
        if json {
            let object: JSONValue = .object([
                "province": .string(report.province), "as_of": .string(String(Timestamps.format(today).prefix(10))),
                "targets": .array(report.rows.map(Self.json)),
            ])
            print(String(decoding: try object.canonicalData(), as: UTF8.self))
        } else if csv {
            print(report.csv, terminator: "")
        } else {
            print("Tiến độ so với mục tiêu / progress against the targets, province \(report.province):")
            for row in report.rows {
                let under = row.nowUnder.map { ", nay thuộc / now under \($0)" } ?? ""
                print(
                    "\(row.indicator) \(row.level.rawValue) \(row.targetYear.map(String.init) ?? "?") \(row.targetText) [\(row.setBy) (\(row.setByCode))\(under)]: "
                        + "baseline \(Self.show(row.baselineValue))\(row.baselineYear.map { " (\($0))" } ?? ""), "
                        + "latest \(Self.show(row.latestValue))\(row.latestPeriod.map { " (\($0))" } ?? ""), "
                        + "\(Self.words[row.status] ?? row.status.rawValue)")
            }
        }
    }

    static let words: [ProgressReport.Status: String] = [
        .met: "đạt / met", .onTrack: "đúng tiến độ / on track", .behind: "chậm / behind", .missed: "không đạt / missed",
        .notMetYet: "chưa đạt / not met yet", .noData: "chưa có số liệu / no data", .notMeasurable: "không đo được / not measurable",
    ]

    static func show(_ number: Double?) -> String { number.map(SemanticRules.show) ?? "—" }

    static func json(_ row: ProgressReport.Row) -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }
        func integer(_ value: Int?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }
        return .object([
            "indicator": .string(row.indicator), "name_vi": .string(row.nameVI), "name_en": .string(row.nameEN), "unit": .string(row.unit),
            "set_by": .string(row.setBy), "set_by_code": .string(row.setByCode), "now_under": row.nowUnder.map(JSONValue.string) ?? .null,
            "level": .string(row.level.rawValue), "latest_figures": .number(Double(row.latestFigures)),
            "target_year": integer(row.targetYear), "comparator": .string(row.comparator), "target": number(row.targetValue),
            "target_min": number(row.targetMin), "target_max": number(row.targetMax), "baseline": number(row.baselineValue),
            "baseline_year": integer(row.baselineYear), "latest": number(row.latestValue),
            "latest_period": row.latestPeriod.map(JSONValue.string) ?? .null,
            "path": number(row.pathValue.map { ($0 * 100).rounded() / 100 }), "status": .string(row.status.rawValue),
        ])
    }
}
