import Foundation
import GatewayContracts
import GatewayJSON
import GatewayStore
import GatewayTestKit
import Testing

@Suite("A quarantine that does not refill itself, and quarantine list|show", .serialized)
struct QuarantineTests {
    static func rejected(_ area: String, value: Double = 130) -> QuarantinedRecord {
        let observation = Observation(
            indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2026-Q3", value: value, unit: "percent",
            sourceSystem: "qlvb", collectedAt: "2026-11-02T01:00:00.000Z")
        return QuarantinedRecord(
            record: observation.jsonValue,
            reasons: [QuarantineReason(pointer: "/value", rule: "indicator.range", message: "value \(value) is outside 0–100")])
    }

    static let unmapped = QuarantinedRecord(
        record: .object(["chiTieu": .string("HSCV"), "ky": .string("Quý 5/2026")]),
        reasons: [QuarantineReason(pointer: "/period", rule: "mapping.period", message: "\"Quý 5/2026\" is not a period")])

    static func commit(_ records: [QuarantinedRecord], adapter: String = "qlvb", to store: any GatewayStore, at time: Date) async throws
        -> CommitOutcome
    {
        try await store.commit(
            PullCommit(adapter: adapter, startedAt: time, pulledRecords: records.count, reports: [], quarantined: records, cursor: nil),
            now: time)
    }

    @Test(
        "a record met again unchanged with the same reasons is counted and its sighting moved, not stored again; a changed one is new",
        arguments: StoreBackend.available)
    func keptOnce(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let first = Date(timeIntervalSince1970: 1_790_000_000), later = first.addingTimeInterval(3600)
            let initial = try await Self.commit([Self.rejected("03646"), Self.unmapped], to: store, at: first)
            #expect(initial == CommitOutcome(newlyQuarantined: 2, alreadyHeld: []))
            let again = try await Self.commit([Self.unmapped, Self.rejected("03646"), Self.rejected("03649")], to: store, at: later)
            #expect(again.newlyQuarantined == 1 && again.alreadyHeld == [0, 1])
            // Another adapter's identical record is its own.
            #expect(try await Self.commit([Self.unmapped], adapter: "other", to: store, at: later).newlyQuarantined == 1)
            // The same record with another value is another record.
            #expect(try await Self.commit([Self.rejected("03646", value: 140)], to: store, at: later).newlyQuarantined == 1)

            let all = try await store.quarantined(matching: QuarantineFilter(), limit: 100)
            #expect(all.count == 5)
            #expect(all.map(\.id) == all.map(\.id).sorted(by: >))
            let repeated = try #require(all.first { $0.adapter == "qlvb" && $0.record.contains("\"03646\"") && $0.record.contains("130") })
            #expect(repeated.timesSeen == 2 && repeated.quarantinedAt == first && repeated.lastSeenAt == later)
            #expect(repeated.indicator == "HSCV_DIEN_TU" && repeated.period == "2026-Q3" && repeated.area == "03646")

            // Filters: adapter, rule, indicator, period, and the next page.
            #expect(try await store.quarantined(matching: QuarantineFilter(adapter: "other"), limit: 100).count == 1)
            #expect(try await store.quarantined(matching: QuarantineFilter(rule: "mapping.period"), limit: 100).count == 2)
            #expect(try await store.quarantined(matching: QuarantineFilter(rule: "mapping"), limit: 100).isEmpty)
            #expect(
                try await store.quarantined(
                    matching: QuarantineFilter(adapter: "qlvb", indicator: "HSCV_DIEN_TU", period: "2026-Q3"), limit: 100
                )
                .count == 3)
            let page = try await store.quarantined(matching: QuarantineFilter(), limit: 2)
            let next = try await store.quarantined(matching: QuarantineFilter(before: page.last?.id), limit: 10)
            #expect(page.count == 2 && next.count == 3 && Set(page.map(\.id)).isDisjoint(with: next.map(\.id)))
            #expect(try await store.quarantinedRecord(id: repeated.id) == repeated)
            #expect(try await store.quarantinedRecord(id: 999_999) == nil)
        }
    }

    @Test("an upgraded store folds the copies it holds of one record into one, counting them", arguments: StoreBackend.available)
    func foldedOnUpgrade(backend: StoreBackend) async throws {
        let location = try await freshStoreLocation(backend)
        let first = Date(timeIntervalSince1970: 1_790_000_000)
        _ = try await StoreLocation.withStore(location) { store in
            try await Self.commit([Self.rejected("03646"), Self.unmapped], to: store, at: first)
        }
        // As the previous version left it: no fingerprint, and a copy of the record per pull.
        let undo = """
            DROP INDEX quarantine_once; ALTER TABLE quarantine DROP COLUMN fingerprint; ALTER TABLE quarantine DROP COLUMN last_seen_at;
            ALTER TABLE quarantine DROP COLUMN times_seen;
            INSERT INTO quarantine (adapter, quarantined_at, record, reasons, indicator, province, level, area, period)
                SELECT adapter, quarantined_at + 3600, record, reasons, indicator, province, level, area, period FROM quarantine;
            INSERT INTO quarantine (adapter, quarantined_at, record, reasons, indicator, province, level, area, period)
                SELECT adapter, quarantined_at + 7200, record, reasons, indicator, province, level, area, period FROM quarantine
                WHERE quarantined_at = \(Int(first.timeIntervalSince1970)) AND record LIKE '%03646%';
            """
        let (status, output) =
            backend == .sqlite
            ? try await runSQL(
                "DROP INDEX quarantine_newest;" + undo + "DELETE FROM grdb_migrations WHERE identifier = 'v8-quarantine-once';",
                on: location)
            : try await runSQL(undo + "DELETE FROM schema_migrations WHERE version = 5;", on: location)
        #expect(status == 0, "\(output)")
        _ = try await StoreLocation.withStore(location) { upgraded in
            let held = try await upgraded.quarantined(matching: QuarantineFilter(), limit: 100)
            #expect(held.count == 2, "\(held)")
            let observation = try #require(held.first { $0.record.contains("03646") })
            #expect(
                observation.timesSeen == 3 && observation.quarantinedAt == first && observation.lastSeenAt == first.addingTimeInterval(7200)
            )
            #expect(held.first { $0.record.contains("Quý 5") }?.timesSeen == 2)
            // And the upgraded store keeps the next sighting as one more, not a copy.
            #expect(try await Self.commit([Self.unmapped], to: upgraded, at: first.addingTimeInterval(9000)).stillQuarantined == 1)
            #expect(try await upgraded.quarantined(matching: QuarantineFilter(), limit: 100).count == 2)
        }
    }

    @Test("quarantine list and show read the store beside a running gateway, in text and JSON")
    func commands() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let first = Date(timeIntervalSince1970: 1_790_000_000)
            _ = try await StoreLocation.withStore(storePath) { store in
                _ = try await Self.commit([Self.rejected("03646"), Self.unmapped], to: store, at: first)
                _ = try await Self.commit([Self.rejected("03646")], to: store, at: first.addingTimeInterval(60))
            }
            let environment = commandEnvironment(running, keyPath: keyPath, storePath: storePath)
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            func run(_ arguments: [String]) async throws -> String {
                let child = try ChildProcess(
                    ["quarantine"] + arguments + ["--config", config], environment: environment,
                    outputPath: directory.appendingPathComponent("q-\(UUID().uuidString.prefix(6)).out"))
                #expect(try await child.waitForExit(timeout: .seconds(30)) == 0, "\(child.output)")
                return child.output
            }
            let listed = try JSONValue.parse(Data(try await run(["list", "--json", "--rule", "indicator.range"]).utf8))
            let records = listed["records"]?.arrayValue ?? []
            #expect(records.count == 1, "\(listed)")
            #expect(records.first?["times_seen"] == .number(2) && records.first?["area"] == .string("03646"))
            #expect(records.first?["record"]?["value"] == .number(130))
            let id = Int(records.first?["id"]?.numberValue ?? 0)
            let text = try await run(["list"])
            #expect(text.contains("#\(id)  qlvb  HSCV_DIEN_TU 2026-Q3 03646  first 2026-09-21T"), "\(text)")
            #expect(text.contains("seen 2×"), "\(text)")
            #expect(text.contains("/period: \"Quý 5/2026\" is not a period [mapping.period]"), "\(text)")
            let shown = try await run(["show", String(id)])
            #expect(
                shown.contains("quarantined record #\(id) from qlvb")
                    && shown.contains("/value: value 130.0 is outside 0–100 [indicator.range]"), "\(shown)")
            #expect(shown.contains(#""area" : "03646""#), "\(shown)")
        }
    }

    @Test(
        "records of codes the adapter skips are counted in the summary and the pull history, never quarantined or sent",
        arguments: StoreBackend.available)
    func skippedCounted(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let source = FiguresLedgerTests.ChangingSource([
                .skipped(field: "indicator", value: "TB_DI_DONG"), FiguresLedgerTests.commune("03646", electronic: 150),
                .skipped(field: "indicator", value: "TB_DI_DONG"), .skipped(field: "indicator", value: "KHAC"),
            ])
            let summary = try await FiguresLedgerTests.runner(store).pullOnce(source)
            #expect(summary.skipped == ["indicator=TB_DI_DONG": 2, "indicator=KHAC": 1])
            #expect(summary.valid == 1 && summary.quarantined == 0 && summary.pulled == 4)
            let totals = try await store.pullTotals()
            #expect(totals.skipped == 3 && totals.quarantined == 0 && totals.validObservations == 1 && totals.pulledRecords == 4)
            #expect(try await store.quarantined(limit: 10).isEmpty)
        }
    }
}

extension QuarantineTests {
    @Test("purge deletes the records named, or every one matching the filters, and nothing else", arguments: StoreBackend.available)
    func purge(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let time = Date(timeIntervalSince1970: 1_790_000_000)
            _ = try await Self.commit(["03646", "03649", "03652"].map { Self.rejected($0) } + [Self.unmapped], to: store, at: time)
            _ = try await Self.commit([Self.unmapped], adapter: "other", to: store, at: time)
            let held = try await store.quarantined(matching: QuarantineFilter(), limit: 100)
            let ranged = held.filter { $0.reasons.contains { $0.rule == "indicator.range" } }.map(\.id)
            // Ids that do not match the filter stay.
            #expect(try await store.purgeQuarantined(ids: [ranged[0]], matching: QuarantineFilter(adapter: "other")) == 0)
            #expect(try await store.purgeQuarantined(ids: [ranged[0], 999_999], matching: QuarantineFilter()) == 1)
            #expect(try await store.quarantinedRecord(id: ranged[0]) == nil)
            #expect(try await store.purgeQuarantined(ids: nil, matching: QuarantineFilter(adapter: "qlvb", rule: "mapping.period")) == 1)
            let left = try await store.quarantined(matching: QuarantineFilter(), limit: 100)
            #expect(Set(left.map(\.id)) == Set(ranged.dropFirst()).union(held.filter { $0.adapter == "other" }.map(\.id)))
            #expect(try await store.purgeQuarantined(ids: nil, matching: QuarantineFilter()) == 3)
            #expect(try await store.quarantined(matching: QuarantineFilter(), limit: 100).isEmpty)
        }
    }

    @Test(
        "quarantine export writes every matching record as CSV an independent parser reads, a thousand at a time; purge asks what to delete"
    )
    func exportAndPurgeCommands() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let time = Date(timeIntervalSince1970: 1_790_000_000)
            // More than one page of the export, and a record whose reason holds a comma, quotes and a line break.
            let many = (0..<1_203).map { Self.rejected(String(format: "%05d", 10_000 + $0)) }
            let awkward = QuarantinedRecord(
                record: .object(["ten": .string("Xã \"Mường\", bản 2\nghi chú")]),
                reasons: [QuarantineReason(pointer: "/area", rule: "mapping.missing", message: "no value, \"area\"\nat maDonVi")])
            _ = try await StoreLocation.withStore(storePath) { store in
                try await Self.commit(many + [awkward, Self.unmapped], to: store, at: time)
            }
            let environment = commandEnvironment(running, keyPath: keyPath, storePath: storePath)
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            func run(_ arguments: [String], exits status: Int32 = 0) async throws -> String {
                let child = try ChildProcess(
                    ["quarantine"] + arguments + ["--config", config], environment: environment,
                    outputPath: directory.appendingPathComponent("q-\(UUID().uuidString.prefix(6)).out"))
                #expect(try await child.waitForExit(timeout: .seconds(60)) == status, "\(arguments): \(child.output)")
                return child.output
            }
            let csv = directory.appendingPathComponent("cach-ly.csv")
            #expect(try await run(["export", "--output", csv.path]).contains("exported 1205 quarantined records"))
            let parsed = try runTool([
                "python3", "-c",
                """
                import csv, json, sys
                rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
                print(json.dumps({"count": len(rows), "ids": len({r["id"] for r in rows}), "header": list(rows[0].keys()),
                  "awkward": [r for r in rows if r["rules"] == "mapping.missing"],
                  "ranged": sum(1 for r in rows if r["rules"] == "indicator.range" and json.loads(r["record"])["value"] == 130)}))
                """, csv.path,
            ])
            #expect(parsed.status == 0, "\(parsed.output)")
            let summary = try JSONValue.parse(Data(parsed.output.utf8))
            #expect(summary["count"] == .number(1_205) && summary["ids"] == .number(1_205) && summary["ranged"] == .number(1_203))
            let columns = [
                "id", "adapter", "quarantined_at", "last_seen_at", "times_seen", "indicator", "period", "area", "rules", "reasons",
                "record",
            ]
            #expect(summary["header"] == .array(columns.map(JSONValue.string)))
            let awkwardRow = try #require(summary["awkward"]?.arrayValue?.first)
            #expect(awkwardRow["reasons"] == .string("/area: no value, \"area\"\nat maDonVi [mapping.missing]"))
            #expect(
                try JSONValue.parse(Data((awkwardRow["record"]?.stringValue ?? "").utf8))["ten"] == .string("Xã \"Mường\", bản 2\nghi chú"))

            let ndjson = try await run(["export", "--format", "ndjson", "--rule", "mapping.period"])
            let lines = ndjson.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(lines.count == 1)
            let exported = try JSONValue.parse(Data(lines[0].utf8))
            #expect(exported["reasons"]?.arrayValue?.first?["rule"] == .string("mapping.period"))

            // Neither ids nor --all: refused, nothing deleted.
            _ = try await run(["purge"], exits: 2)
            #expect(try await run(["purge", "--all", "--rule", "mapping.period"]).contains("purged 1 quarantined record"))
            _ = try await run(["purge", "999999"], exits: 1)
            #expect(try await run(["purge", "--all"]).contains("purged 1204 quarantined records"))
            // Each purge is in the operator actions log, newest first, with who ran it.
            let child = try ChildProcess(
                ["audit", "actions", "--json", "--config", config], environment: environment,
                outputPath: directory.appendingPathComponent("actions.out"))
            #expect(try await child.waitForExit(timeout: .seconds(30)) == 0, "\(child.output)")
            let actions = try JSONValue.parse(Data(child.output.utf8))["actions"]?.arrayValue ?? []
            // The one that found nothing to purge as well: what was asked is the record.
            #expect(
                actions.map { $0["action"]?.stringValue } == ["quarantine.purge", "quarantine.purge", "quarantine.purge"], "\(actions)")
            #expect(actions.first?["target"] == .string("--all") && actions.first?["outcome"] == .string("1204 record(s) purged"))
            #expect(actions[1]["target"] == .string("#999999") && actions[1]["outcome"] == .string("0 record(s) purged"))
            #expect(actions.last?["target"] == .string("--all --rule mapping.period") && actions.last?["via"] == .string("cli"))
            #expect(actions.allSatisfy { !($0["user"]?.stringValue ?? "").isEmpty })
            #expect(try await run(["export", "--format", "ndjson"]).split(separator: "\n").filter { $0.hasPrefix("{") }.isEmpty)
        }
    }
}

extension QuarantineTests {
    @Test("operator actions are kept in the store, newest first, a page at a time", arguments: StoreBackend.available)
    func operatorActions(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let time = Date(timeIntervalSince1970: 1_790_000_000)
            for (index, action) in ["quarantine.reprocess", "outbox.retry", "quarantine.purge"].enumerated() {
                try await store.record(
                    OperatorAction(
                        at: time.addingTimeInterval(Double(index)), user: "nguyen.van.a", via: index == 1 ? "console" : "cli",
                        action: action, target: "#\(index)", outcome: "done"))
            }
            let newest = try await store.operatorActions(before: nil, limit: 2)
            #expect(newest.map(\.action) == ["quarantine.purge", "outbox.retry"])
            #expect(newest.first?.at == time.addingTimeInterval(2) && newest.first?.user == "nguyen.van.a" && newest.last?.via == "console")
            let older = try await store.operatorActions(before: newest.last?.id, limit: 10)
            #expect(older.map(\.action) == ["quarantine.reprocess"] && older.first?.target == "#0")
        }
    }
}

extension QuarantineTests {
    @Test(
        "records are found by rule through a table of their rules: filled on upgrade, kept at each commit, emptied with the records",
        arguments: StoreBackend.available)
    func rulesTable(backend: StoreBackend) async throws {
        let location = try await freshStoreLocation(backend)
        let time = Date(timeIntervalSince1970: 1_790_000_000)
        let twoRules = QuarantinedRecord(
            record: .object(["ky": .string("Quý 5/2026")]),
            reasons: [
                QuarantineReason(pointer: "/period", rule: "mapping.period", message: "not a period"),
                QuarantineReason(pointer: "/value", rule: "mapping.convert", message: "not a number"),
            ])
        _ = try await StoreLocation.withStore(location) { store in
            try await Self.commit([Self.rejected("03646"), twoRules], to: store, at: time)
        }
        func count() async throws -> String {
            let (status, output) = try await runSQL("SELECT COUNT(*) FROM quarantine_rules", on: location)
            #expect(status == 0, "\(output)")
            // sqlite3 prints the number alone, psql in a table: the line that is only digits.
            return output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first {
                !$0.isEmpty && $0.allSatisfy(\.isNumber)
            } ?? output
        }
        #expect(try await count() == "3")
        // As a store from before the table: the rows gone, the migration to be run again.
        let (status, output) =
            backend == .sqlite
            ? try await runSQL(
                "DROP TABLE quarantine_rules; DELETE FROM grdb_migrations WHERE identifier = 'v12-quarantine-rules';", on: location)
            : try await runSQL("DROP TABLE quarantine_rules; DELETE FROM schema_migrations WHERE version = 9;", on: location)
        #expect(status == 0, "\(output)")
        _ = try await StoreLocation.withStore(location) { store in
            #expect(try await store.quarantined(matching: QuarantineFilter(rule: "mapping.convert"), limit: 10).count == 1)
            #expect(try await store.quarantined(matching: QuarantineFilter(rule: "indicator.range"), limit: 10).count == 1)
            let page = try await store.quarantined(matching: QuarantineFilter(rule: "mapping.period", before: 1_000_000), limit: 10)
            #expect(page.count == 1 && page.first?.reasons.count == 2)
            #expect(try await store.purgeQuarantined(ids: nil, matching: QuarantineFilter()) == 2)
        }
        #expect(try await count() == "0")
    }
}
