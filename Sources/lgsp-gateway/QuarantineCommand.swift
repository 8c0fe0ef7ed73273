import ArgumentParser
import Foundation
import Gateway
import GatewayContracts
import GatewayAdapters
import GatewayJSON
import GatewayPipeline
import GatewayStore

/// What was quarantined and why, without `sqlite3`: each record as the source sent it (or as
/// mapped), with every reason.
struct Quarantine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, export and purge quarantined records with their reasons.",
        subcommands: [List.self, Show.self, Export.self, Reprocess.self, Purge.self])

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
            "source": record.source.map { (try? JSONValue.parse(Data($0.utf8))) ?? .string($0) } ?? .null,
        ])
    }

    /// What a command chose, for the operator actions log: the ids, or `--all` and its filters.
    static func describe(ids: [Int64]?, _ filters: Filters) -> String {
        if let ids { return ids.map { "#\($0)" }.joined(separator: " ") }
        let named = [("adapter", filters.adapter), ("rule", filters.rule), ("indicator", filters.indicator), ("period", filters.period)]
            .compactMap { name, value in value.map { "--\(name) \($0)" } }
        return (["--all"] + named).joined(separator: " ")
    }

    /// Which records: the filters `list`, `export` and `purge` share.
    struct Filters: ParsableArguments {
        @Option(help: "Only this adapter's.") var adapter: String?
        @Option(help: "Only records with a reason of this rule, e.g. indicator.range.") var rule: String?
        @Option(help: "Only records of this indicator (records that failed mapping have none).") var indicator: String?
        @Option(help: "Only records of this period, e.g. 2026-Q3.") var period: String?

        var filter: QuarantineFilter { QuarantineFilter(adapter: adapter, rule: rule, indicator: indicator, period: period) }
        var isEmpty: Bool { adapter == nil && rule == nil && indicator == nil && period == nil }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quarantined records, newest first, with their first reason.",
            discussion: """
                A record met again at a later pull, unchanged and with the same reasons, is one record: \
                its last sighting and how often it was met are kept, not a copy per pull.
                """)
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Option(help: "Only records older than this id (the next page).") var before: Int64?
        @Option(help: "At most this many.") var limit = 50
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1–10000") }
        }

        func run() async throws {
            var filter = filters.filter
            filter.before = before
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
            func printPretty(_ json: String) {
                let pretty =
                    (try? JSONSerialization.data(
                        withJSONObject: JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed),
                        options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? json
                for line in pretty.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
            }
            print("  record:")
            printPretty(record.record)
            if let source = record.source {
                print("  as the source sent it (mapped again by quarantine reprocess):")
                printPretty(source)
            }
        }
    }
}

extension Quarantine {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every quarantined record matching the filters, newest first, as CSV (RFC 4180) or NDJSON.",
            discussion: """
                CSV columns: id, adapter, quarantined_at, last_seen_at, times_seen, indicator, period, area, rules \
                (each reason's rule, `;` between), reasons (`pointer: message [rule]`, one a line) and record \
                (the record as it came, JSON). Read a thousand records at a time, never the whole table.
                """)
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Option(help: "csv or ndjson.") var format = "csv"
        @Option(help: "Write here instead of standard output (replaced whole, or left as it was).") var output: String?

        func validate() throws {
            guard ["csv", "ndjson"].contains(format) else { throw ValidationError("--format must be csv or ndjson") }
        }

        func run() async throws {
            let destination = output.map { URL(fileURLWithPath: $0) }
            let partial = destination.map { $0.deletingLastPathComponent().appendingPathComponent(".\($0.lastPathComponent).partial") }
            if let partial {
                _ = FileManager.default.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let handle = try partial.map { try FileHandle(forWritingTo: $0) } ?? FileHandle.standardOutput
            var written = 0
            do {
                if format == "csv" { handle.write(Data((CSV.line(QuarantineCSV.header)).utf8)) }
                try await Outbox.withStore(options) { store in
                    var filter = filters.filter
                    while true {
                        let page = try await store.quarantined(matching: filter, limit: 1_000)
                        var chunk = ""
                        for record in page {
                            chunk +=
                                format == "csv"
                                ? QuarantineCSV.line(record)
                                : String(decoding: try Quarantine.json(record).canonicalData(), as: UTF8.self) + "\n"
                        }
                        handle.write(Data(chunk.utf8))
                        written += page.count
                        guard page.count == 1_000, let last = page.last else { break }
                        filter.before = last.id
                    }
                }
                if let partial, let destination {
                    try handle.close()
                    // rename(2) replaces the old file in one step, or leaves it as it was.
                    guard rename(partial.path, destination.path) == 0 else {
                        throw ValidationError("cannot write \(destination.path): \(String(cString: strerror(errno)))")
                    }
                }
            } catch {
                if let partial { try? FileManager.default.removeItem(at: partial) }
                throw error
            }
            var standardError = FileHandle.standardError
            print("exported \(written) quarantined record\(written == 1 ? "" : "s")", to: &standardError)
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete quarantined records for good: those named, or (--all) every one matching the filters.",
            discussion: """
                A record the source still serves comes back at its next pull, with today's reasons: purge what the \
                source has fixed or will never send again, or what `export` has kept.
                """)
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Argument(help: "The records' ids, as list shows them.") var ids: [Int64] = []
        @Flag(help: "Every record matching the filters (all of them, with none).") var all = false

        func validate() throws {
            guard ids.isEmpty != !all else { throw ValidationError("name the records' ids, or say --all (with filters to narrow it)") }
        }

        func run() async throws {
            let purged = try await Outbox.withStore(options) { store in
                let purged = try await store.purgeQuarantined(ids: all ? nil : ids, matching: filters.filter)
                try await store.recordCommand(
                    "quarantine.purge", target: Quarantine.describe(ids: all ? nil : ids, filters), outcome: "\(purged) record(s) purged")
                return purged
            }
            print("đã xóa / purged \(purged) quarantined record\(purged == 1 ? "" : "s")")
            if !all && purged < ids.count {
                var standardError = FileHandle.standardError
                print(
                    "\(ids.count - purged) of the ids named are not quarantined records\(filters.isEmpty ? "" : " matching the filters")",
                    to: &standardError)
                throw ExitCode(1)
            }
        }
    }
}

extension Quarantine {
    struct Reprocess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check quarantined records again with the adapter files and contracts as they are now.",
            discussion: """
                After fixing an adapter file or the contracts (check, then reload): each record is mapped again from \
                the source's record when the store kept it, or its observation checked again; what passes is signed \
                and stored for delivery once (a figure the centre holds with the same value is not sent again), what \
                fails stays quarantined with today's reasons. --dry-run prints the outcome and changes nothing.
                """)
        @OptionGroup var options: ConfigOption
        @OptionGroup var filters: Filters
        @Argument(help: "The records' ids, as list shows them.") var ids: [Int64] = []
        @Flag(help: "Every record matching the filters (all of them, with none).") var all = false
        @Flag(help: "Show what would happen; store nothing.") var dryRun = false

        func validate() throws {
            guard ids.isEmpty != !all else { throw ValidationError("name the records' ids, or say --all (with filters to narrow it)") }
        }

        func run() async throws {
            let loaded: LoadedGateway
            do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
            var standardError = FileHandle.standardError
            let failed = try await StoreLocation.withStore(loaded.configuration.store.location, exclusive: false) { store in
                let run = try await loaded.reprocessQuarantined(
                    ids: all ? nil : ids, matching: filters.filter, store: store, dryRun: dryRun)
                for problem in run.problems { print(problem, to: &standardError) }
                for summary in run.summaries {
                    print(
                        "\(dryRun ? "thử / dry run" : "đã xử lý lại / reprocessed") \(summary.adapter): \(summary.records) record(s) checked again "
                            + "(\(summary.remapped) mapped again from the source's record): \(summary.sent) to send (\(summary.revisions) revisions, "
                            + "\(summary.reports) reports), \(summary.unchanged) unchanged, \(summary.quarantined) quarantined again, "
                            + "\(summary.skipped) skipped")
                }
                if run.summaries.isEmpty { print("không có bản ghi nào / no quarantined records match") }
                if !dryRun {
                    try await store.recordCommand(
                        "quarantine.reprocess", target: Quarantine.describe(ids: all ? nil : ids, filters), outcome: run.outcome)
                }
                return !run.problems.isEmpty
            }
            if failed { throw ExitCode(1) }
        }
    }
}
