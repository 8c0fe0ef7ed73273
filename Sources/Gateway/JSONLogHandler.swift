import Foundation
import GatewayContracts
import Logging
import GatewayJSON

/// One JSON object per line on standard output, as journald and log shippers read it:
/// `{"ts":…,"level":…,"label":…,"message":…, <metadata>…}`. Metadata keys such as `adapter` and
/// `report_id` become top-level fields, so a query can select on them.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (Data) -> Void

    public init(label: String, write: @escaping @Sendable (Data) -> Void = { FileHandle.standardOutput.write($0) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = Self.json(value)
        }
        fields["ts"] = .string(Timestamps.format(Date()))
        fields["level"] = .string(event.level.rawValue)
        fields["label"] = .string(label)
        fields["message"] = .string("\(event.message)")
        guard var line = try? JSONValue.object(JSONObject(fields)).canonicalData() else { return }
        line.append(0x0A)
        // One write call per line, so lines from concurrent tasks never interleave.
        write(line)
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let members): .object(JSONObject(members.mapValues(json)))
        }
    }
}

/// The log format the gateway uses: JSON lines for journald, readable text on a terminal.
public enum LogFormat: String, Sendable, CaseIterable {
    case json, text, auto

    /// Sets up swift-log once, for the whole process.
    public func bootstrap(level: Logger.Level = .info) {
        let useJSON = self == .json || (self == .auto && isatty(STDOUT_FILENO) == 0)
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = useJSON ? JSONLogHandler(label: label) : StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
