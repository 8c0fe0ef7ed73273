import Foundation
import GatewayHTTP
import Yams

/// One problem in a configuration file, located to the line and the field.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    /// Dotted path of the field, e.g. `source.auth.client_secret`.
    public let field: String
    public let message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(field.isEmpty ? "" : field + ": ")\(message)"
    }
}

/// Every problem found in a set of configuration files; loading reports them all at once.
public struct ConfigIssues: Error, Sendable, CustomStringConvertible {
    public let issues: [ConfigIssue]
    public init(_ issues: [ConfigIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Where `${NAME}` and `credential:NAME` values come from. Injected, so the demo and the tests
/// can point a shipped file at their own mocks without touching the process environment.
public struct ConfigEnvironment: Sendable {
    public var variables: [String: String]
    /// systemd's `$CREDENTIALS_DIRECTORY`, for `credential:NAME` values.
    public var credentialsDirectory: String?
    /// Where `credential:NAME` is read outside systemd: the files the unit's LoadCredential= lines
    /// name, so operator commands run by hand see the same secrets as the service.
    public var hostCredentialsDirectory: String

    public static let defaultHostCredentialsDirectory = "/etc/lgsp-gateway/credentials"

    public init(variables: [String: String], credentialsDirectory: String? = nil, hostCredentialsDirectory: String? = nil) {
        self.variables = variables
        self.credentialsDirectory = credentialsDirectory ?? variables["CREDENTIALS_DIRECTORY"]
        self.hostCredentialsDirectory = hostCredentialsDirectory ?? Self.defaultHostCredentialsDirectory
    }

    public static var process: ConfigEnvironment { ConfigEnvironment(variables: ProcessInfo.processInfo.environment) }
}

/// Reads one YAML file field by field, collecting every issue instead of stopping at the first.
public final class ConfigReader {
    public let file: String
    public let directory: URL
    public let environment: ConfigEnvironment
    public private(set) var issues: [ConfigIssue] = []
    /// The document's top-level mapping, `nil` when the file could not be parsed.
    public private(set) var root: ConfigValue?

    public init(file: String, environment: ConfigEnvironment) {
        self.file = file
        self.directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        self.environment = environment
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            issues.append(ConfigIssue(file: file, line: nil, field: "", message: "cannot be read as UTF-8 text"))
            return
        }
        parse(text)
    }

    public init(file: String, text: String, environment: ConfigEnvironment) {
        self.file = file
        self.directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        self.environment = environment
        parse(text)
    }

    private func parse(_ text: String) {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                issues.append(ConfigIssue(file: file, line: nil, field: "", message: "the file is empty"))
                return
            }
            let value = ConfigValue(node: node, path: "", reader: self)
            guard node.mapping != nil else {
                report(value, "the top level must be a mapping of fields")
                return
            }
            root = value
        } catch let error as YamlError {
            issues.append(
                ConfigIssue(file: file, line: Self.line(of: error), field: "", message: "not valid YAML: \(Self.problem(of: error))"))
        } catch {
            issues.append(ConfigIssue(file: file, line: nil, field: "", message: "not valid YAML"))
        }
    }

    public func report(_ value: ConfigValue, _ message: String) {
        issues.append(ConfigIssue(file: file, line: value.node.mark?.line, field: value.path, message: message))
    }

    func report(line: Int?, field: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: line, field: field, message: message))
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): problem
        default: "\(error)"
        }
    }

    /// Replaces `${NAME}` and `${NAME:-default}` with values from the environment.
    func interpolate(_ text: String, at value: ConfigValue) -> String? {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                report(value, "unterminated ${ in \"\(text)\"")
                return nil
            }
            let expression = rest[start.upperBound..<end]
            let name: Substring
            let fallback: Substring?
            if let separator = expression.range(of: ":-") {
                name = expression[..<separator.lowerBound]
                fallback = expression[separator.upperBound...]
            } else {
                name = expression
                fallback = nil
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                report(value, "\"${\(expression)}\" is not a variable name")
                return nil
            }
            if let set = environment.variables[String(name)], !set.isEmpty {
                result += set
            } else if let fallback {
                result += fallback
            } else {
                report(value, "environment variable \(name) is not set and has no default")
                return nil
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}

/// A node of a configuration file with its dotted path, for typed reads that report issues.
public struct ConfigValue {
    let node: Node
    public let path: String
    unowned let reader: ConfigReader

    public var line: Int? { node.mark?.line }

    func child(_ key: String, _ node: Node) -> ConfigValue {
        ConfigValue(node: node, path: path.isEmpty ? key : path + "." + key, reader: reader)
    }

    /// The sub-value under `key`, if present.
    public subscript(key: String) -> ConfigValue? {
        guard let mapping = node.mapping else { return nil }
        for (k, v) in mapping where k.string == key { return child(key, v) }
        return nil
    }

    /// Reports fields this version does not know, so a misspelt field is not silently ignored.
    public func allowOnly(_ keys: Set<String>) {
        guard let mapping = node.mapping else { return }
        for (key, _) in mapping {
            let name = key.string ?? "?"
            if !keys.contains(name) {
                // Only a name a typo away from a known one can be a typo of it: the edit distance of
                // a 2 MiB key would take a minute of CPU to say nothing.
                let longest = keys.map(\.count).max() ?? 0
                let suggestion =
                    name.utf8.count > longest + 3
                    ? ""
                    : keys.min { Self.distance($0, name) < Self.distance($1, name) }
                        .flatMap { Self.distance($0, name) <= 3 ? " (did you mean \($0)?)" : nil } ?? ""
                let shownName = ConfigUnits.shown(name)
                reader.report(
                    line: key.mark?.line, field: path.isEmpty ? shownName : path + "." + shownName,
                    "unknown field\(suggestion); known fields: \(keys.sorted().joined(separator: ", "))")
            }
        }
    }

    public var entries: [(String, ConfigValue)] {
        guard let mapping = node.mapping else { return [] }
        return mapping.compactMap { k, v in k.string.map { ($0, child($0, v)) } }
    }

    public var items: [ConfigValue] {
        guard let sequence = node.sequence else { return [] }
        return sequence.enumerated().map { index, item in
            ConfigValue(node: item, path: "\(path)[\(index)]", reader: reader)
        }
    }

    public func report(_ message: String) { reader.report(self, message) }

    /// The scalar as text after `${…}` interpolation.
    public var text: String? {
        guard let scalar = node.scalar else {
            report("expected a single value, found a \(node.mapping != nil ? "mapping" : "list")")
            return nil
        }
        return reader.interpolate(scalar.string, at: self)
    }

    /// A required mapping member.
    public func required(_ key: String) -> ConfigValue? {
        if let value = self[key] { return value }
        reader.report(line: line, field: path.isEmpty ? key : path + "." + key, "required field is missing")
        return nil
    }

    public func string(_ key: String) -> String? { required(key)?.text }
    /// An optional field; `${NAME:-}` interpolating to nothing counts as absent.
    public func optionalString(_ key: String) -> String? { self[key]?.text.flatMap { $0.isEmpty ? nil : $0 } }

    public func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let value = self[key], let text = value.text else { return fallback }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            value.report("expected true or false, found \"\(text)\"")
            return fallback
        }
    }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let value = self[key], let text = value.text else { return fallback }
        guard let number = Int(text), range.contains(number) else {
            value.report("expected a whole number from \(range.lowerBound) to \(range.upperBound), found \"\(text)\"")
            return fallback
        }
        return number
    }

    /// A size in bytes within `range`: `512KB`, `64MB`, `10GB` (powers of 1024), or a plain number
    /// of bytes. Out of range, or not a size, is a located issue and the default stands.
    public func size(_ key: String, default fallback: Int64, range: ClosedRange<Int64>) -> Int64 {
        guard let value = self[key], let text = value.text else { return fallback }
        let shownRange = "from \(ConfigUnits.size(range.lowerBound)) to \(ConfigUnits.size(range.upperBound))"
        guard let bytes = ConfigUnits.parseSize(text) else {
            value.report("expected a size such as 512KB, 64MB or 10GB (\(shownRange)), found \"\(ConfigUnits.shown(text))\"")
            return fallback
        }
        guard bytes >= Double(range.lowerBound), bytes <= Double(range.upperBound) else {
            value.report("expected a size \(shownRange), found \(ConfigUnits.shown(text))")
            return fallback
        }
        return Int64(bytes)
    }

    /// A duration within `range`: `250ms`, `30s`, `5m`, `1h`, `1d`. Out of range, or not a duration,
    /// is a located issue and the default stands.
    public func duration(_ key: String, default fallback: Duration, range: ClosedRange<Duration>) -> Duration {
        guard let value = self[key], let text = value.text else { return fallback }
        let shownRange = "from \(ConfigUnits.duration(range.lowerBound)) to \(ConfigUnits.duration(range.upperBound))"
        guard let seconds = ConfigUnits.parseDurationSeconds(text) else {
            value.report("expected a duration such as 250ms, 30s, 5m or 1h (\(shownRange)), found \"\(ConfigUnits.shown(text))\"")
            return fallback
        }
        guard seconds >= range.lowerBound.timeInterval, seconds <= range.upperBound.timeInterval else {
            value.report("expected a duration \(shownRange), found \(ConfigUnits.shown(text))")
            return fallback
        }
        return Duration(clampingSeconds: seconds)
    }

    public static func parseDuration(_ text: String) -> Duration? {
        ConfigUnits.parseDurationSeconds(text).map(Duration.init(clampingSeconds:))
    }

    /// A URL that must be `https://` unless plain HTTP was allowed for this endpoint.
    public func url(_ key: String, allowPlainHTTP: Bool = false) -> String? {
        guard let value = required(key), let text = value.text else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), url.host != nil else {
            value.report("\"\(text)\" is not an absolute URL")
            return nil
        }
        if scheme == "http" && !allowPlainHTTP {
            value.report(
                "plain http:// is refused; use https:// (or set allow_plain_http: true for this endpoint, which sends data unprotected)")
            return nil
        }
        guard scheme == "https" || scheme == "http" else {
            value.report("\"\(text)\" must be an https:// URL")
            return nil
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// A file path; relative paths are taken from the configuration file's directory, and
    /// `credential:NAME` is the file systemd placed in `$CREDENTIALS_DIRECTORY` (LoadCredential=).
    public func path(_ key: String, required isRequired: Bool = true) -> String? {
        guard let value = isRequired ? required(key) : self[key], let text = value.text else { return nil }
        if text.isEmpty && !isRequired { return nil }
        if text.hasPrefix("credential:") { return value.credentialFile(text.dropFirst("credential:".count)) }
        return reader.resolvePath(text)
    }

    /// A credential: `${ENV}`, `file:/path` (contents, trailing newline removed), or
    /// `credential:NAME` (from systemd's `$CREDENTIALS_DIRECTORY`). Never echoed in issues. A
    /// secret written in the file itself is refused (`allowInline` keeps it, for a login's
    /// user name, which travels with the secrets but is none).
    public func secret(_ key: String, allowInline: Bool = false) -> Secret? {
        guard let value = required(key) else { return nil }
        let raw = value.node.scalar?.string ?? ""
        if !allowInline, !raw.contains("${"), !raw.hasPrefix("file:"), !raw.hasPrefix("credential:") {
            value.report(
                "a secret written in the file: give it as credential:NAME (systemd's LoadCredential=), file:/path or ${VARIABLE}, so that no copy of this file holds it"
            )
            return nil
        }
        guard let text = value.text else { return nil }
        if text.hasPrefix("file:") {
            return value.readSecretFile(reader.resolvePath(String(text.dropFirst(5))))
        }
        if text.hasPrefix("credential:") {
            return value.credentialFile(text.dropFirst("credential:".count)).flatMap { value.readSecretFile($0) }
        }
        return Secret(text)
    }

    /// The file of credential `name`: in `$CREDENTIALS_DIRECTORY` under systemd, else in the host's credentials directory.
    private func credentialFile(_ name: Substring) -> String? {
        // A credential is a name in one directory, as systemd's LoadCredential= makes it, never a
        // path: `credential:../elsewhere/secret` would read outside it.
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.contains(where: \.isControlCharacter) else {
            report(
                "credential:\(ConfigUnits.shown(String(name))) is not a credential name: give the name systemd's LoadCredential= uses, without / (e.g. credential:lgsp-client-secret)"
            )
            return nil
        }
        let environment = reader.environment
        if let directory = environment.credentialsDirectory { return directory + "/" + name }
        let onHost = environment.hostCredentialsDirectory + "/" + name
        guard FileManager.default.fileExists(atPath: onHost) else {
            report("credential:\(name) needs $CREDENTIALS_DIRECTORY (set by systemd LoadCredential=) or the file \(onHost)")
            return nil
        }
        return onHost
    }

    /// A secret file's text: a regular file of at most 64 KiB, so `file:/dev/zero` or a log file
    /// named by mistake is an error rather than a read that never ends.
    private func readSecretFile(_ path: String) -> Secret? {
        let limit = 64 << 10
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, let handle = FileHandle(forReadingAtPath: path) else {
            report("secret file \(path) cannot be read as a regular file")
            return nil
        }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: limit + 1) ?? Data(), data.count <= limit,
            let contents = String(data: data, encoding: .utf8)
        else {
            report("secret file \(path) cannot be read as UTF-8 text of at most 64 KiB")
            return nil
        }
        let trimmed = contents.trimmingCharacters(in: .newlines)
        guard !trimmed.isEmpty else {
            report("secret file \(path) is empty")
            return nil
        }
        return Secret(trimmed)
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Reading and writing the units of configuration values, strictly: a number is digits with an
/// optional decimal part, so `1e17s`, `0x10s`, `inf` and `nan` are not durations.
public enum ConfigUnits {
    static let durationUnits: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
    static let sizeUnits: [(suffix: String, bytes: Double)] = [
        ("KB", 1024), ("MB", 1_048_576), ("GB", 1_073_741_824), ("TB", 1_099_511_627_776), ("B", 1),
    ]

    /// `250ms` → 0.25; nil for anything but digits, an optional decimal part and a unit.
    public static func parseDurationSeconds(_ text: String) -> Double? {
        for (suffix, seconds) in durationUnits where text.hasSuffix(suffix) {
            return plainNumber(text.dropLast(suffix.count)).map { $0 * seconds }
        }
        return nil
    }

    /// `64MB` → 67108864, `512` → 512; nil for anything else. A space may stand before the unit.
    public static func parseSize(_ text: String) -> Double? {
        let upper = text.uppercased()
        for (suffix, bytes) in sizeUnits where upper.hasSuffix(suffix) {
            var amount = text.dropLast(suffix.count)
            if amount.last == " " { amount = amount.dropLast() }
            return plainNumber(amount).map { $0 * bytes }
        }
        return plainNumber(Substring(text))
    }

    /// `1`, `2.5`, `0.25`: at most 15 digits before the point and 9 after, so every value is exact
    /// enough and no product overflows what a `Double` compares.
    public static func plainNumber(_ text: Substring) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, (1...15).contains(whole.count), whole.allSatisfy(\.isASCIIDigit) else { return nil }
        if parts.count == 2 { guard (1...9).contains(parts[1].count), parts[1].allSatisfy(\.isASCIIDigit) else { return nil } }
        return Double(text)
    }

    /// The shortest exact spelling: `250ms`, `30s`, `5m`, `1h`, `7d`.
    public static func duration(_ duration: Duration) -> String { duration.configurationText }

    public static func size(_ bytes: Int64) -> String {
        for (suffix, unit) in sizeUnits.reversed() where suffix != "B" {
            let factor = Int64(unit)
            if bytes >= factor, bytes % factor == 0 { return "\(bytes / factor)\(suffix)" }
        }
        return "\(bytes)B"
    }

    /// A value quoted back to an operator: at most 80 characters, control characters escaped, so
    /// neither a huge value nor a terminal escape reaches the screen whole.
    public static func shown(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars.prefix(80) {
            shown += scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return text.unicodeScalars.count > 80 ? shown + "… (\(text.utf8.count) bytes)" : shown
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isControlCharacter: Bool { unicodeScalars.contains { $0.properties.generalCategory == .control } }
}

extension ConfigReader {
    public func resolvePath(_ text: String) -> String {
        if text.hasPrefix("/") { return text }
        return directory.appendingPathComponent(text).standardizedFileURL.path
    }
}

extension ConfigValue {
    /// The raw node as a JSON-like value, for mapping tables and constants.
    public var scalarText: String? { node.scalar.map(\.string) }
}

extension ConfigValue {
    /// Fields every endpoint shares: `ca_bundle`, `client_certificate`, `client_key`,
    /// `server_name` and `insecure_skip_tls_verification`.
    public static let tlsFields: Set<String> = [
        "ca_bundle", "client_certificate", "client_key", "server_name", "insecure_skip_tls_verification",
    ]

    /// The endpoint's TLS settings, checked by building them, so unreadable files fail `check`.
    /// `url` is the endpoint's address, whose host `server_name` stands in for.
    public func endpointTLS(url: String?) -> EndpointTLS {
        let certificate = path("client_certificate", required: false)
        let key = path("client_key", required: false)
        if (certificate == nil) != (key == nil) {
            (self["client_certificate"] ?? self["client_key"] ?? self).report("client_certificate and client_key go together")
        }
        var tls = EndpointTLS(
            caBundlePath: path("ca_bundle", required: false), clientCertificatePath: certificate, clientKeyPath: key,
            insecureSkipVerification: bool("insecure_skip_tls_verification", default: false))
        if let serverName = optionalString("server_name") {
            let labels = serverName.split(separator: ".", omittingEmptySubsequences: false)
            let isHostName =
                !labels.isEmpty
                && labels.allSatisfy { label in
                    (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                        && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                }
            if !isHostName || labels.last?.allSatisfy(\.isNumber) == true {
                self["server_name"]?.report(
                    "\"\(serverName)\" is not a host name; server_name is the name the server's certificate carries, e.g. lgsp.sonla.gov.vn"
                )
            } else if let host = url.flatMap({ URLComponents(string: $0)?.host }) {
                tls.serverNames = [host: serverName]
            }
        }
        let problems = tls.problems()
        for (field, message) in problems { (self[field] ?? self).report(message) }
        return problems.isEmpty ? ((try? tls.prepared()) ?? tls) : tls
    }
}

extension EndpointTLS {
    /// What an operator must be told at every start about this endpoint.
    public func warnings(endpoint: String, url: String) -> [String] {
        var warnings: [String] = []
        if url.lowercased().hasPrefix("http://") {
            warnings.append("\(endpoint) uses plain http:// (allow_plain_http is set): data and credentials travel unencrypted")
        }
        if insecureSkipVerification {
            warnings.append(
                "\(endpoint) does not verify the server's certificate (insecure_skip_tls_verification is set): anyone on the path can impersonate it"
            )
        }
        return warnings
    }
}

extension ConfigValue {
    /// This scalar as a path, relative ones taken from the configuration file's directory.
    public var resolvedPath: String? { text.map(reader.resolvePath) }
}
