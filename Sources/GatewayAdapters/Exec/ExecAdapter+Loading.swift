import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

extension ExecAdapter.Definition {
    /// `kind: exec`: a program whose standard output is NDJSON observations.
    static func parse(_ root: ConfigValue, name: String?) -> ExecAdapter.Definition? {
        root.allowOnly(["name", "kind", "description", "source_system", "schedule", "exec", "expects"])
        let sourceSystem = root.optionalString("source_system") ?? name
        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = PullSchedule.parse(value) }
        guard let exec = root.required("exec") else { return nil }
        exec.allowOnly(["command", "args", "environment", "timeout", "max_output_bytes"])
        let command = exec.string("command")
        if let command, !command.hasPrefix("/") { exec["command"]?.report("must be an absolute path, so PATH decides nothing") }
        if let command, command.hasPrefix("/"), !FileManager.default.isExecutableFile(atPath: command) {
            exec["command"]?.report("\(command) is not an executable file")
        }
        let arguments = exec["args"]?.items.compactMap(\.text) ?? []
        if let args = exec["args"], args.items.count != arguments.count { args.report("must be a list of strings") }
        var environment: [String: Secret] = [:]
        for (key, _) in exec["environment"]?.entries ?? [] {
            // Values may be secrets (`file:`, `credential:`); they reach only the program.
            if let secret = exec["environment"]?.secret(key) { environment[key] = secret }
        }
        let timeout = exec.duration("timeout", default: .seconds(60), range: .seconds(1)...(.seconds(86_400)))
        let maxOutputBytes = exec.int("max_output_bytes", default: 64 << 20, range: 1024...(1 << 30))
        guard let name, let command, let sourceSystem else { return nil }
        return ExecAdapter.Definition(
            name: name, schedule: schedule, executable: command, arguments: arguments, environment: environment, timeout: timeout,
            maxOutputBytes: maxOutputBytes, sourceSystem: sourceSystem)
    }
}
