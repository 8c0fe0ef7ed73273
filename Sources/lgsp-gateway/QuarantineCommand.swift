import ArgumentParser
import Foundation
import Gateway
import GatewayContracts
import GatewayJSON
import GatewayStore

/// What was quarantined and why, without `sqlite3`: each record as the source sent it (or as
/// mapped), with every reason.
struct Quarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and show quarantined records with their reasons.", subcommands: [List.self, Show.self])

    static func json(_ record: StoredQuarantine) -> JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        return .object([
            "id": .number(Double(record.id)), "adapter": .string(record.adapter),
            "quarantined_at": .string(Timestamps.format(record.quarantinedAt)),
            "last_seen_at": .string(Timestamps.format(record.lastSeenAt)),
            "times_seen": .number(Double(record.timesSeen)), "indicator": optional(record.indicator), "period": optional(record.period),
            "area": optional(record.area),
            "reasons": .array(
                record.reasons.map { .object(["rule": .string($0.rule), "pointer": .string($0.pointer), "message": .string($0.message)]) }),
            "record": (try? JSONValue.parse(Data(record.record.utf8))) ?? .string(record.record),
        ])
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantined records, newest first, with their first reason.",
            discussion: """
                A record met again at a later pull, unchanged and with the same reasons, is one record: \
                its last sighting and how often it was met are kept, not a copy per pull.
                """)
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this adapter's.") var adapter: String?
        @Option(help: "Only records with a reason of this rule, e.g. indicator.range.") var rule: String?
        @Option(help: "Only records of this indicator (records that failed mapping have none).") var indicator: String?
        @Option(help: "Only records of this period, e.g. 2026-Q3.") var period: String?
        @Option(help: "Only records older than this id (the next page).") var before: Int64?
        @Option(help: "At most this many.") var limit = 50
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1–10000") }
        }

        func run() async throws {
            let filter = QuarantineFilter(adapter: adapter, rule: rule, indicator: indicator, period: period, before: before)
            let records = try await Outbox.withStore(options) { try await $0.quarantined(matching: filter, limit: limit) }
            if json {
                let object: JSONValue = .object([
                    "records": .array(records.map(Quarantine.json)),
                    "next_before": records.count == limit ? records.last.map { .number(Double($0.id)) } ?? .null : .null,
                ])
                print(String(decoding: try object.canonicalData(), as: UTF8.self))
                return
            }
            if records.isEmpty { print("không có bản ghi nào bị cách ly / no quarantined records match") }
            for record in records {
                let figure = [record.indicator, record.period, record.area].compactMap { $0 }.joined(separator: " ")
                let first = record.reasons.first.map { "\($0.pointer.isEmpty ? "/" : $0.pointer): \($0.message) [\($0.rule)]" } ?? "-"
                let more = record.reasons.count > 1 ? " (+\(record.reasons.count - 1) more)" : ""
                print(
                    "#\(record.id)  \(record.adapter)  \(figure.isEmpty ? "-" : figure)  first \(Timestamps.format(record.quarantinedAt))"
                        + (record.timesSeen > 1 ? ", seen \(record.timesSeen)×, last \(Timestamps.format(record.lastSeenAt))" : "")
                        + "\n    \(first)\(more)")
            }
            if records.count == limit, let last = records.last { print("… more: --before \(last.id)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One quarantined record: as it came, and every reason.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The record's id, as list shows it.") var id: Int64
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            guard let record = try await Outbox.withStore(options, { try await $0.quarantinedRecord(id: id) }) else {
                throw ValidationError("no quarantined record #\(id)")
            }
            if json {
                print(String(decoding: try Quarantine.json(record).canonicalData(), as: UTF8.self))
                return
            }
            print("quarantined record #\(record.id) from \(record.adapter)")
            print(
                "  first quarantined \(Timestamps.format(record.quarantinedAt)); met \(record.timesSeen)×, last \(Timestamps.format(record.lastSeenAt))"
            )
            if let indicator = record.indicator { print("  figure: \(indicator) \(record.period ?? "-") \(record.area ?? "-")") }
            print("  reasons:")
            for reason in record.reasons {
                print("    \(reason.pointer.isEmpty ? "/" : reason.pointer): \(reason.message) [\(reason.rule)]")
            }
            print("  record:")
            let pretty =
                (try? JSONSerialization.data(
                    withJSONObject: JSONSerialization.jsonObject(with: Data(record.record.utf8), options: .fragmentsAllowed),
                    options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]))
                .map { String(decoding: $0, as: UTF8.self) } ?? record.record
            for line in pretty.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
        }
    }
}
