import ArgumentParser
import Foundation
import Gateway
import GatewayContracts
import GatewayStore
import GatewayJSON

/// Operator access to the outbox: what waits, what failed for good and why, and sending it again.
struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the outbox, replay or purge dead letters.",
        subcommands: [List.self, Show.self, Retry.self, Purge.self, Stats.self])

    /// `body` with the store the configuration names, opened beside a running gateway (no
    /// exclusive lock), and closed after.
    static func withStore<T: Sendable>(_ options: ConfigOption, _ body: (any GatewayStore) async throws -> T) async throws -> T {
        let configuration: GatewayConfiguration
        do { configuration = try GatewayConfiguration.load(file: options.config) } catch { throw failOnIssues(error) }
        return try await StoreLocation.withStore(configuration.store.location, exclusive: false, body)
    }

    static func date(_ date: Date?) -> String { date.map { Timestamps.format($0) } ?? "-" }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List reports in a state (dead letters by default).")
        @OptionGroup var options: ConfigOption
        @Option(help: "pending, in_flight, delivered, dead_lettered, or all.") var state = "dead_lettered"
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let chosen: OutboxState? = state == "all" ? nil : OutboxState(rawValue: state)
            guard state == "all" || chosen != nil else {
                throw ValidationError("--state must be pending, in_flight, delivered, dead_lettered or all")
            }
            let entries = try await Outbox.withStore(options) { try await $0.entries(state: chosen, limit: limit) }
            if entries.isEmpty { print("no \(state == "all" ? "" : state + " ")reports") }
            for entry in entries {
                print(
                    "\(entry.reportID)  \(entry.state.rawValue)  \(entry.adapter ?? "-")  \(entry.observationCount ?? 0) obs  attempts \(entry.attempts)  created \(Outbox.date(entry.createdAt))  \(entry.lastStatus.map { "last status \($0)" } ?? "")  \(entry.lastError ?? "")"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one report: its request, the centre's answer and why it stopped.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The report id.") var reportID: String

        func run() async throws {
            let found = try await Outbox.withStore(options) { store in
                (try await store.entry(reportID: reportID), try await store.signedReport(reportID: reportID))
            }
            guard let entry = found.0, let report = found.1 else {
                throw ValidationError("report \(reportID) is not in the outbox")
            }
            print("report \(entry.reportID)")
            print(
                "  state: \(entry.state.rawValue), attempts: \(entry.attempts), adapter: \(entry.adapter ?? "-"), observations: \(report.observationCount)"
            )
            print(
                "  created: \(Outbox.date(entry.createdAt)), next attempt: \(Outbox.date(entry.state == .pending ? entry.nextAttemptAt : nil)), delivered: \(Outbox.date(entry.deliveredAt))"
            )
            print(
                "  request: POST /v1/reports, Content-Type: \(report.contentType), Idempotency-Key: \(report.reportID), Content-Digest: \(report.contentDigest), \(report.body.count) bytes"
            )
            if let status = entry.lastStatus { print("  last answer: HTTP \(status)") }
            if let reason = entry.lastError { print("  reason: \(reason)") }
            if let response = entry.response, !response.isEmpty { print("  answer body: \(response)") }
            if let receipt = entry.receipt { print("  receipt: \(receipt)") }
            switch entry.receiptVerified {
            case true?: print("  receipt verified: yes, with central.receipt_keys")
            case false?: print("  receipt verified: NO — the centre's receipt does not prove delivery (see the reason)")
            case nil: break
            }
        }
    }

    /// Which dead letters a command acts on: the ids given, or all of them.
    struct DeadLetterSelection: ParsableArguments {
        @OptionGroup var options: ConfigOption
        @Argument(help: "Report ids.") var reportIDs: [String] = []
        @Flag(help: "Every dead letter (with retry --now, every pending report as well).") var all = false

        func validate() throws { guard all != !reportIDs.isEmpty else { throw ValidationError("give report ids or --all") } }

        /// Runs `action` on each selected report and says what was done.
        func forEach(
            _ logged: String, _ done: String, including states: [OutboxState] = [.deadLettered],
            _ action: (any GatewayStore, String) async throws -> Void
        ) async throws {
            try await Outbox.withStore(options) { store in
                var ids = reportIDs
                if all {
                    ids = []
                    for state in states { ids += try await store.entries(state: state, limit: .max).map(\.reportID) }
                }
                for id in ids {
                    try await action(store, id)
                    print("\(id): \(done)")
                }
                if !ids.isEmpty {
                    try await store.recordCommand(
                        logged, target: all ? "--all (\(ids.count) reports)" : ids.joined(separator: " "),
                        outcome: "\(ids.count) report(s) \(done)")
                }
                if ids.isEmpty { print(states.count > 1 ? "no dead letters and no pending reports" : "no dead letters") }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters again (the running gateway picks them up); with --now, pending reports too, at once.",
            discussion: """
                A pending report waits for its next attempt, which backoff and the centre's Retry-After (up to \
                delivery.retry_after_max) may have put hours away. When you know the centre is back, --now makes \
                those reports due at once as well.
                """)
        @OptionGroup var selection: DeadLetterSelection
        @Flag(help: "Also send pending reports now rather than at their scheduled attempt.") var now = false

        func run() async throws {
            let states: [OutboxState] = now ? [.deadLettered, .pending] : [.deadLettered]
            try await selection.forEach("outbox.retry", now ? "due now" : "queued again", including: states) { store, id in
                try await store.requeue(reportID: id, now: Date(), includingPending: now)
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters for good.")
        @OptionGroup var selection: DeadLetterSelection

        func run() async throws {
            try await selection.forEach("outbox.purge", "purged") { store, id in try await store.purge(reportID: id) }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts per state and the age of the oldest undelivered report.")
        @OptionGroup var options: ConfigOption
        @Flag(help: "Print one JSON object.") var json = false

        func run() async throws {
            let stats = try await Outbox.withStore(options) { try await $0.outboxStats(now: Date()) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(stats), as: UTF8.self))
            } else {
                print(
                    "pending \(stats.pending), in flight \(stats.inFlight), delivered \(stats.delivered) (\(stats.deliveredObservations) observations), dead letters \(stats.deadLettered)"
                )
                print("oldest undelivered: \(stats.undelivered == 0 ? "none" : "\(stats.oldestUndeliveredAgeSeconds) s")")
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the tamper-evident chain of delivered reports; list what operators did.",
        subcommands: [VerifyChain.self, Actions.self])

    struct Actions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What operators did to the store (retries, purges, reprocessing), newest first: who, when, what, to what.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only actions older than this id (the next page).") var before: Int64?
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1–10000") }
        }

        func run() async throws {
            let actions = try await Outbox.withStore(options) { try await $0.operatorActions(before: before, limit: limit) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .custom { date, encoder in
                    var container = encoder.singleValueContainer()
                    try container.encode(Timestamps.format(date))
                }
                print(String(decoding: try encoder.encode(["actions": actions]), as: UTF8.self))
                return
            }
            if actions.isEmpty { print("chưa có thao tác nào / no operator actions recorded") }
            for action in actions {
                print(
                    "#\(action.id)  \(Timestamps.format(action.at))  \(action.user) (\(action.via))  \(action.action) \(action.target): \(action.outcome)"
                )
            }
        }
    }

    struct VerifyChain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Exit 0 when every link holds; otherwise name the first bad link and exit 1.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let links = try await Outbox.withStore(options) { try await $0.auditLinks() }
            if let problem = AuditChainCheck.firstProblem(in: links) {
                print("audit chain BROKEN: \(problem)")
                throw ExitCode(1)
            }
            print("audit chain of \(links.count) links holds\(links.last.map { "; last: report \($0.reportID), hash \($0.hash)" } ?? "")")
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "For each adapter: last pull, last success, last error and next run; then the outbox summary.")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        let (statusList, stats) = try await StoreLocation.withStore(loaded.configuration.store.location, exclusive: false) { store in
            (try await store.adapterStatuses(), try await store.outboxStats(now: Date()))
        }
        let statuses = Dictionary(uniqueKeysWithValues: statusList.map { ($0.adapter, $0) })
        // A next run is a promise only while a gateway runs; a stopped one is said to be stopped.
        let running = StoreLocation.isInUse(loaded.configuration.store.location)
        func text(_ date: Date?) -> JSONValue { date.map { .string(Timestamps.format($0)) } ?? .null }
        let adapters: [JSONValue] = loaded.adapters.map { adapter in
            let status = statuses[adapter.name]
            return .object([
                "name": .string(adapter.name), "last_pull": text(status?.lastPull), "last_success": text(status?.lastSuccess),
                "last_error": status?.lastError.map(JSONValue.string) ?? .null, "last_error_at": text(status?.lastErrorAt),
                "next_run": running == false ? .null : text(status?.nextRun),
            ])
        }
        if json {
            let outbox = try JSONValue(encoding: stats)
            print(
                String(
                    decoding: try JSONValue.object([
                        "adapters": .array(adapters), "outbox": outbox, "running": running.map(JSONValue.bool) ?? .null,
                    ]).canonicalData(), as: UTF8.self))
            return
        }
        if running == false {
            print("gateway not running (no process holds \(loaded.configuration.store.location)); no pull is scheduled")
        }
        for adapter in loaded.adapters {
            let status = statuses[adapter.name]
            let next = running == false ? "none (not running)" : Outbox.date(status?.nextRun)
            print(
                "\(adapter.name): last pull \(Outbox.date(status?.lastPull)), last success \(Outbox.date(status?.lastSuccess)), next run \(next)"
            )
            if let error = status?.lastError { print("  last error (\(Outbox.date(status?.lastErrorAt))): \(error)") }
        }
        print(
            "outbox: pending \(stats.pending), in flight \(stats.inFlight), delivered \(stats.delivered), dead letters \(stats.deadLettered), oldest undelivered \(stats.undelivered == 0 ? "none" : "\(stats.oldestUndeliveredAgeSeconds) s")"
        )
        if stats.unverifiedReceipts > 0 {
            print(
                "receipts that do not verify: \(stats.unverifiedReceipts) (dead letters for you to judge: outbox list, then outbox show ID)"
            )
        }
    }
}

extension OperatorActions {
    /// Records what a command just did, as the account it ran as: the caller of `sudo` when run
    /// through it (`sudo -u lgsp-gateway …`), else the process's own user.
    func recordCommand(_ action: String, target: String, outcome: String) async throws {
        let environment = ProcessInfo.processInfo.environment
        let user =
            environment["SUDO_USER"].map { "\($0) (sudo)" } ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) }
            ?? "uid \(getuid())"
        try await record(OperatorAction(at: Date(), user: user, via: "cli", action: action, target: target, outcome: outcome))
    }
}
