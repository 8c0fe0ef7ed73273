import ArgumentParser
import Foundation
import Gateway
import GatewayAdapters
import GatewayContracts
import GatewayHTTP
import Logging
import GatewayJSON
import GatewayPipeline

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
            The pull starts from the beginning (no cursor), or from --cursor. Each valid observation is printed \
            as "ok" and its JSON; each record that would be quarantined as "QUARANTINED" with its reasons and \
            the record. Exits 0 when the pull worked (even if records were quarantined), 1 when it failed, \
            2 on a configuration problem or an unknown adapter.
            """)

    @Argument(help: "The adapter's name (see `adapters list`).")
    var name: String

    @OptionGroup var options: ConfigOption

    @Option(help: "Pull from this cursor, as a later pull would.")
    var cursor: String?

    @Flag(help: "End with one JSON object: adapter, records, observations, quarantined, quarantined_by_rule, next_cursor.")
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
        let output: PullOutput
        do {
            output = try await definition.makeAdapter(transport: transport, logger: Logger(label: "lgsp-gateway"))
                .pull(cursor: cursor, context: PullContext(province: loaded.configuration.gateway.province, collectedAt: Date()))
            try await transport.shutdown()
        } catch {
            try? await transport.shutdown()
            print("adapter \(name): the pull failed: \(error)", to: &standardError)
            throw ExitCode(1)
        }
        let (valid, quarantined) = await PullRunner.check(
            output, contracts: loaded.contracts, province: loaded.configuration.gateway.province)
        for observation in valid {
            print("ok  " + String(decoding: try observation.jsonValue.canonicalData(), as: UTF8.self))
        }
        var byRule: [String: Int] = [:]
        for record in quarantined {
            print("QUARANTINED  " + String(decoding: try record.record.canonicalData(), as: UTF8.self))
            for reason in record.reasons {
                print("    \(reason.pointer.isEmpty ? "(record)" : reason.pointer): \(reason.message) [\(reason.rule)]")
                byRule[reason.rule, default: 0] += 1
            }
        }
        print(
            "adapter \(name): \(output.records.count) records, \(valid.count) observations, \(quarantined.count) quarantined; nothing stored or sent"
        )
        if json {
            var summary: [String: JSONValue] = [
                "adapter": .string(name), "records": .number(Double(output.records.count)), "observations": .number(Double(valid.count)),
                "quarantined": .number(Double(quarantined.count)),
                "quarantined_by_rule": .object(JSONObject(byRule.mapValues { .number(Double($0)) })),
            ]
            if let next = output.nextCursor { summary["next_cursor"] = .string(next) }
            print(String(decoding: try JSONValue.object(JSONObject(summary)).canonicalData(), as: UTF8.self))
        }
    }
}
