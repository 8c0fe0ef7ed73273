import ArgumentParser
import Foundation
import Gateway
import GatewayContracts
import GatewayJSON
import GatewayStore

/// `calendar`: per indicator and period, the figures expected of the province and where each stands.
struct Calendar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per indicator and period: figures expected, accepted on time, late, pending, quarantined, missing, and overdue now.",
        discussion: """
            The figures expected are those the adapter files declare (`expects:`); the periods, those of each \
            indicator's rhythm (the catalogue's `reporting.rhythm`, or `calendar.indicators` in the configuration) \
            that have ended or fall due within seven days, from the start of last year (or `calendar.from`). A \
            figure is on time when the centre accepted it by the end of its due day, Vietnam time.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Only this period, e.g. 2026-Q3.") var period: String?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Judge as at the end of this day (yyyy-mm-dd, Vietnam time) rather than now.") var asOf: String?
    @Option(help: "Outstanding figures listed per row in text (all of them in JSON).") var show = 10

    func validate() throws {
        if let period, ReportingPeriod(period) == nil {
            throw ValidationError("--period \(period): expected a period such as 2026, 2026-H1, 2026-Q3 or 2026-11")
        }
        if let asOf, CalendarDay(asOf) == nil { throw ValidationError("--as-of \(asOf): expected a day as yyyy-mm-dd") }
    }

    func run() async throws {
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        let now = asOf.flatMap(CalendarDay.init).map { $0.endInstant.addingTimeInterval(-1) } ?? Date()
        let calendar = loaded.calendar
        let rows = try await StoreLocation.withStore(loaded.configuration.store.location, exclusive: false) { store in
            try await calendar.rows(store: store, now: now, only: period.flatMap(ReportingPeriod.init))
        }
        let day = CalendarDay(now)
        if json {
            let object: JSONValue = .object([
                "province": .string(calendar.province), "as_of": .string(day.description),
                "overdue": .number(Double(rows.reduce(0) { $0 + $1.overdue })),
                "due_soon": .number(Double(rows.reduce(0) { $0 + $1.dueSoon })),
                "rows": .array(rows.map(Self.json)),
            ])
            print(String(decoding: try object.canonicalData(), as: UTF8.self))
            return
        }
        if calendar.expectations.isEmpty {
            print(
                "Chưa adapter nào khai báo số liệu phải báo cáo (expects:) / no adapter declares the figures it is responsible for (expects:)"
            )
        }
        print("Lịch báo cáo / reporting calendar, tỉnh / province \(calendar.province), đến / as of \(day):")
        for row in rows {
            let counts = ReportingCalendar.FigureStatus.allCases.map { "\(Self.words[$0] ?? $0.rawValue) \(row.count($0))" }
            let required = row.required ? "" : " [tự nguyện / voluntary]"
            print(
                "\(row.indicator) \(row.period)\(required) (hạn / due \(row.due)): dự kiến / expected \(row.expected), "
                    + counts.joined(separator: ", ") + (row.overdue > 0 ? "; QUÁ HẠN / OVERDUE \(row.overdue)" : "")
                    + (row.dueSoon > 0 ? "; sắp đến hạn / due soon \(row.dueSoon)" : "")
                    + (row.unexpected > 0 ? "; ngoài dự kiến / not expected \(row.unexpected)" : ""))
            for figure in row.outstanding.prefix(show) {
                print(
                    "    \(Self.words[figure.status] ?? figure.status.rawValue): \(figure.key.level.rawValue) \(figure.key.area) (\(figure.adapter))"
                        + (figure.overdue ? ", quá hạn / overdue" : ""))
            }
            if row.outstanding.count > show { print("    … \(row.outstanding.count - show) more (--show N, or --json)") }
        }
        let overdue = rows.reduce(0) { $0 + $1.overdue }
        print("Quá hạn bây giờ / overdue now: \(overdue) figure\(overdue == 1 ? "" : "s")")
    }

    static let words: [ReportingCalendar.FigureStatus: String] = [
        .onTime: "đúng hạn / on time", .late: "trễ hạn / late", .pending: "đang gửi / pending",
        .quarantined: "bị cách ly / quarantined", .missing: "thiếu / missing",
    ]

    static func json(_ row: ReportingCalendar.Row) -> JSONValue {
        var object: [String: JSONValue] = [
            "indicator": .string(row.indicator), "period": .string(row.period), "due": .string(row.due.description),
            "required": .bool(row.required), "expected": .number(Double(row.expected)), "overdue": .number(Double(row.overdue)),
            "due_soon": .number(Double(row.dueSoon)), "unexpected": .number(Double(row.unexpected)),
            "outstanding": .array(
                row.outstanding.map { figure in
                    .object([
                        "level": .string(figure.key.level.rawValue), "area": .string(figure.key.area),
                        "status": .string(figure.status.rawValue),
                        "overdue": .bool(figure.overdue), "adapter": .string(figure.adapter),
                    ])
                }),
        ]
        for status in ReportingCalendar.FigureStatus.allCases { object[status.rawValue] = .number(Double(row.count(status))) }
        return .object(JSONObject(object))
    }
}
