import ArgumentParser
import Foundation
import Gateway
import GatewayAdapters
import GatewayContracts
import GatewayHTTP
import Logging
import GatewayJSON
import GatewayPipeline
import GatewayStore

struct Adapters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the configured adapters, or try one against its source without storing or sending anything.",
        subcommands: [ListAdapters.self, TestAdapter.self])
}

struct ListAdapters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The adapters the configuration loads, one per line.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        for adapter in loaded.adapters {
            let how: String
            switch adapter {
            case .exec: how = "runs a program"
            case .compiled: how = "compiled into the gateway"
            case .http(let definition):
                how =
                    switch definition.auth {
                    case .none: "no auth"
                    case .bearer: "bearer token"
                    case .oauth2ClientCredentials: "OAuth2 client credentials"
                    case .basic: "HTTP basic"
                    case .apiKey(let name, let inQuery, _): inQuery ? "API key in query \(name)" : "API key in header \(name)"
                    case .login(let login): "login at \(login.url)"
                    }
            }
            print("\(adapter.name)  \(adapter.schedule.summary)  \(adapter.origin)  \(how)")
            for warning in adapter.warnings { print("    warning: \(warning)") }
        }
    }
}

/// `adapters test`: one pull, mapped and checked as the daemon would, printed instead of stored.
struct TestAdapter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Pull once from one adapter's source and print the mapped observations and every failure; nothing is stored or sent.",
        discussion: """
            The pull starts from the beginning (no cursor), or from --cursor. Each observation a pull would send \
            is printed as "ok" and its JSON (with its revision); each the centre holds already with the same \
            value as "unchanged"; each record that would be quarantined as "QUARANTINED" with its reasons and \
            the record. Exits 0 when the pull worked (even if records were quarantined), 1 when it failed, \
            2 on a configuration problem or an unknown adapter.
            """)

    @Argument(help: "The adapter's name (see `adapters list`).")
    var name: String

    @OptionGroup var options: ConfigOption

    @Option(help: "Pull from this cursor, as a later pull would.")
    var cursor: String?

    @Flag(
        help:
            "End with one JSON object: adapter, records, observations, revisions, unchanged, quarantined (records), quarantined_records (the same), quarantined_by_rule (reasons by rule: a record failing two rules counts under each), next_cursor (null when none)."
    )
    var json = false

    func run() async throws {
        var standardError = FileHandle.standardError
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        guard let definition = loaded.adapters.first(where: { $0.name == name }) else {
            print(
                "no adapter \"\(name)\" in \(options.config); there are: \(loaded.adapters.map(\.name).joined(separator: ", "))",
                to: &standardError)
            throw ExitCode(2)
        }
        let transport = HTTPTransport()
        let location = loaded.configuration.store.location
        let resend = loaded.configuration.delivery.resendUnchanged
        let result: DryRun
        do {
            result = try await DryRun.run(
                definition.makeAdapter(transport: transport, logger: Logger(label: "lgsp-gateway")), cursor: cursor,
                contracts: loaded.contracts, province: loaded.configuration.gateway.province,
                figures: { valid in
                    // Against what the store's ledger says was sent, read only; no store yet (a
                    // gateway not started): every figure is new.
                    StoreLocation.isPostgres(location) || FileManager.default.fileExists(atPath: location)
                        ? try await StoreLocation.withStore(location, exclusive: false) { store in
                            try await PullRunner.decide(valid, against: store, resendUnchanged: resend)
                        }
                        : try await PullRunner.decide(valid, against: NoFiguresYet(), resendUnchanged: resend)
                })
            try await transport.shutdown()
        } catch {
            try? await transport.shutdown()
            print("adapter \(name): the pull failed: \(error)", to: &standardError)
            throw ExitCode(1)
        }
        if let problem = result.ledgerProblem {
            print(
                "adapter \(name): the store's figures ledger could not be read (\(problem)); every figure is shown as new",
                to: &standardError)
        }
        for observation in result.send {
            print("ok  " + String(decoding: try observation.jsonValue.canonicalData(), as: UTF8.self))
        }
        for observation in result.unchanged {
            print("unchanged  " + String(decoding: try observation.jsonValue.canonicalData(), as: UTF8.self))
        }
        for record in result.quarantined {
            print("QUARANTINED  " + String(decoding: try record.record.canonicalData(), as: UTF8.self))
            for reason in record.reasons {
                print("    \(reason.pointer.isEmpty ? "(record)" : reason.pointer): \(reason.message) [\(reason.rule)]")
            }
        }
        for (code, count) in result.skipped.sorted(by: { $0.key < $1.key }) {
            print("skipped  \(code): \(count) record\(count == 1 ? "" : "s") (a code this adapter skips)")
        }
        print(
            "adapter \(name): \(result.records) records: \(result.send.count) to send (\(result.revisions) revisions), \(result.unchanged.count) unchanged, \(result.quarantined.count) quarantined"
                + (result.skippedCount > 0 ? ", \(result.skippedCount) skipped" : "") + "; nothing stored or sent")
        if json {
            let summary: [String: JSONValue] = [
                "adapter": .string(name), "records": .number(Double(result.records)), "observations": .number(Double(result.send.count)),
                "quarantined": .number(Double(result.quarantined.count)), "unchanged": .number(Double(result.unchanged.count)),
                "revisions": .number(Double(result.revisions)),
                // Reasons by rule: a record failing two rules counts under each; `quarantined`
                // counts the records.
                "quarantined_by_rule": .object(JSONObject(result.quarantinedByRule.mapValues { .number(Double($0)) })),
                "quarantined_records": .number(Double(result.quarantined.count)),
                "skipped": .number(Double(result.skippedCount)),
                "skipped_by_code": .object(JSONObject(result.skipped.mapValues { .number(Double($0)) })),
                // null when there is none.
                "next_cursor": result.nextCursor.map(JSONValue.string) ?? .null,
            ]
            print(String(decoding: try JSONValue.object(JSONObject(summary)).canonicalData(), as: UTF8.self))
        }
    }
}
