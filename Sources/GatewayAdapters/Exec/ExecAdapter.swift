import Foundation
import GatewayConfig
import GatewayHTTP
import GatewayContracts
import Logging
import GatewayJSON

/// Runs an executable on the schedule and reads observations from its standard output, one JSON
/// object per line (NDJSON), in the contract's own form. For sources only a script can reach: a
/// database export, a file share, a command-line client of a vendor system.
///
/// The program gets the stored cursor in `LGSP_CURSOR` (empty on the first pull) and the province
/// in `LGSP_PROVINCE`; a line `{"$cursor": "…"}` sets the next cursor. What it writes to standard
/// error is logged; a non-zero exit, or running past `timeout`, fails the pull and stores nothing.
public struct ExecAdapter: Adapter {
    public struct Definition: Sendable {
        public var name: String
        public var schedule: PullSchedule
        public var executable: String
        public var arguments: [String]
        /// Only these variables, with these values, reach the program (plus PATH, LGSP_CURSOR,
        /// LGSP_PROVINCE). Kept as secrets, so printing a definition shows none of them.
        public var environment: [String: Secret]
        public var timeout: Duration
        public var maxOutputBytes: Int
        public var sourceSystem: String

        public init(
            name: String, schedule: PullSchedule, executable: String, arguments: [String], environment: [String: Secret] = [:],
            timeout: Duration = .seconds(60), maxOutputBytes: Int = 64 << 20, sourceSystem: String
        ) {
            self.name = name
            self.schedule = schedule
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.timeout = timeout
            self.maxOutputBytes = maxOutputBytes
            self.sourceSystem = sourceSystem
        }
    }

    public let definition: Definition
    let logger: Logger

    public init(definition: Definition, logger: Logger) {
        self.definition = definition
        self.logger = logger
    }

    public var name: String { definition.name }
    public var schedule: PullSchedule { definition.schedule }

    public func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-exec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Files, not pipes: a program that writes more than a pipe holds cannot block on a reader
        // that only reads after it exits.
        let outputURL = directory.appendingPathComponent("stdout"), errorURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL), errors = try FileHandle(forWritingTo: errorURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: definition.executable)
        process.arguments = definition.arguments
        var environment = definition.environment.mapValues { $0.reveal() }
        environment["PATH"] = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["LGSP_CURSOR"] = cursor ?? ""
        environment["LGSP_PROVINCE"] = context.province
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw PullError(adapter: name, "\(definition.executable) cannot be started: \((error as NSError).localizedDescription)")
        }
        try? output.close()
        try? errors.close()

        let deadline = ContinuousClock.now + definition.timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                timedOut = true
                process.terminate()
                try? await Task.sleep(for: .seconds(2))
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            do { try await Task.sleep(for: .milliseconds(20)) } catch {
                // Shutting down: the program must not outlive the pull.
                process.terminate()
                throw error
            }
        }
        process.waitUntilExit()

        let errorText = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        for line in errorText.split(whereSeparator: \.isNewline).prefix(100) {
            let (level, message) = Self.standardErrorLine(String(line))
            logger.log(level: level, "adapter program: \(message)", metadata: ["adapter": "\(name)"])
        }
        if timedOut { throw PullError(adapter: name, "\(definition.executable) ran longer than \(definition.timeout) and was stopped") }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how =
                process.terminationReason == .exit
                ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            let last = errorText.split(whereSeparator: \.isNewline).last.map { ": \($0)" } ?? ""
            throw PullError(adapter: name, "\(definition.executable) \(how)\(last)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: outputURL.path)[.size] as? Int) ?? 0
        guard size <= definition.maxOutputBytes else {
            throw PullError(
                adapter: name, "\(definition.executable) wrote \(size) bytes, more than max_output_bytes \(definition.maxOutputBytes)")
        }
        return try Self.read(
            Data(contentsOf: outputURL), adapter: name, sourceSystem: definition.sourceSystem, context: context, cursor: cursor)
    }

    /// NDJSON to records: each line an observation, filled in with what the gateway knows; a line
    /// that is not a JSON object is quarantined with its number.
    static func read(_ data: Data, adapter: String, sourceSystem: String, context: PullContext, cursor: String?) throws -> PullOutput {
        guard let text = String(data: data, encoding: .utf8) else { throw PullError(adapter: adapter, "the program's output is not UTF-8") }
        var records: [PulledRecord] = []
        var nextCursor: String?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard case .object(var members)? = try? JSONValue.parse(Data(trimmed.utf8)) else {
                records.append(
                    .failed(
                        record: .object(["line": .number(Double(index + 1)), "text": .string(String(trimmed.prefix(500)))]),
                        reasons: [
                            QuarantineReason(
                                pointer: "", rule: "mapping.ndjson",
                                message: "line \(index + 1) of the program's output is not a JSON object")
                        ]))
                continue
            }
            if let value = members["$cursor"], members.count == 1 {
                nextCursor = value.stringValue
                continue
            }
            if members["province"] == nil { members["province"] = .string(context.province) }
            if members["collected_at"] == nil { members["collected_at"] = .string(context.collectedAtText) }
            if members["source_system"] == nil { members["source_system"] = .string(sourceSystem) }
            records.append(.mapped(.object(members)))
        }
        return PullOutput(records: records, nextCursor: nextCursor == cursor ? nil : nextCursor)
    }

    /// A line of the program's standard error as a log entry: a JSON object with `level` (trace,
    /// debug, info, notice, warning, error, critical; `warn` for warning) and `message` (or `msg`)
    /// is logged at that level; any other line is progress, logged at info.
    public static func standardErrorLine(_ line: String) -> (Logger.Level, String) {
        guard line.hasPrefix("{"), case .object(let object)? = try? JSONValue.parse(Data(line.utf8)),
            case .string(let text)? = object["message"] ?? object["msg"]
        else { return (.info, line) }
        let level: Logger.Level =
            switch object["level"]?.stringValue?.lowercased() {
            case "trace": .trace
            case "debug": .debug
            case "notice": .notice
            case "warning", "warn": .warning
            case "error": .error
            case "critical", "fatal": .critical
            default: .info
            }
        return (level, text)
    }
}
