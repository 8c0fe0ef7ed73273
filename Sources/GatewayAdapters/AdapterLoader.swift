import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

/// Reads adapter files (`*.yaml` in the adapters directory) into adapters, reporting every
/// problem with its file, line and field before anything runs.
public enum AdapterLoader {
    public static func definitions(directory: String, environment: ConfigEnvironment) throws(ConfigIssues) -> [AdapterSpec] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ConfigIssues([ConfigIssue(file: directory, line: nil, field: "", message: "the adapters directory cannot be read")])
        }
        var issues: [ConfigIssue] = []
        var definitions: [AdapterSpec] = []
        var seen: [String: String] = [:]
        for file in files {
            let path = directory + "/" + file
            let reader = ConfigReader(file: path, environment: environment)
            let definition = reader.root.flatMap { parse($0) }
            issues += reader.issues
            if let definition, reader.issues.isEmpty {
                if let other = seen[definition.name] {
                    issues.append(
                        ConfigIssue(
                            file: path, line: reader.root?["name"]?.line, field: "name",
                            message: "adapter name \(definition.name) is already used by \(other)"))
                } else {
                    seen[definition.name] = path
                    definitions.append(definition)
                }
            }
        }
        if !issues.isEmpty { throw ConfigIssues(issues) }
        return definitions
    }

    /// One adapter file's text, read as `check` reads the file: for documentation blocks and the
    /// fuzzer, which have text rather than a directory.
    public static func definition(file: String, text: String, environment: ConfigEnvironment) throws(ConfigIssues) -> AdapterSpec {
        let reader = ConfigReader(file: file, text: text, environment: environment)
        let definition = reader.root.flatMap { parse($0) }
        guard let definition, reader.issues.isEmpty else {
            throw ConfigIssues(
                reader.issues.isEmpty
                    ? [ConfigIssue(file: file, line: nil, field: "", message: "not an adapter definition")] : reader.issues)
        }
        return definition
    }

    static func parse(_ root: ConfigValue) -> AdapterSpec? {
        if let sourceSystem = root.optionalString("source_system"), let control = SemanticRules.firstControlCharacter(in: sourceSystem) {
            root["source_system"]?.report(
                "holds the control character U+\(String(format: "%04X", control)); it is signed into every observation")
        }
        let name = root.string("name")
        if let name, !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            root["name"]?.report("use letters, digits, - and _ only")
        }
        switch root.optionalString("kind") ?? "http" {
        case "http": return parseHTTP(root, name: name).map(AdapterSpec.http)
        case "exec": return parseExec(root, name: name).map(AdapterSpec.exec)
        case "compiled": return parseCompiled(root, name: name).map(AdapterSpec.compiled)
        case let kind:
            root["kind"]?.report("unknown adapter kind \"\(kind)\"; this version knows: http, exec, compiled")
            return nil
        }
    }

    /// `kind: compiled`: a Swift adapter from `AdapterRegistry`, by `type`, with its `settings`.
    static func parseCompiled(_ root: ConfigValue, name: String?) -> CompiledAdapterSpec? {
        root.allowOnly(["name", "kind", "description", "source_system", "schedule", "type", "settings"])
        let sourceSystem = root.optionalString("source_system") ?? name
        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = parseSchedule(value) }
        guard let typeName = root.string("type") else { return nil }
        guard let type = AdapterRegistry.type(named: typeName) else {
            root["type"]?.report(
                "no compiled adapter \"\(typeName)\" in this build; it has: \(AdapterRegistry.compiled.map { $0.type }.joined(separator: ", "))"
            )
            return nil
        }
        guard let settings = root.required("settings"), let name, let sourceSystem,
            let make = type.configure(name: name, schedule: schedule, sourceSystem: sourceSystem, settings: settings)
        else { return nil }
        return CompiledAdapterSpec(name: name, type: typeName, schedule: schedule, origin: "compiled adapter \(typeName)", make: make)
    }

    /// `kind: exec`: a program whose standard output is NDJSON observations.
    static func parseExec(_ root: ConfigValue, name: String?) -> ExecAdapter.Definition? {
        root.allowOnly(["name", "kind", "description", "source_system", "schedule", "exec"])
        let sourceSystem = root.optionalString("source_system") ?? name
        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = parseSchedule(value) }
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

    static func parseHTTP(_ root: ConfigValue, name: String?) -> HTTPAdapter.Definition? {
        root.allowOnly([
            "name", "kind", "description", "source_system", "schedule", "source", "request", "response", "pagination", "cursor", "mapping",
        ])
        let sourceSystem = root.optionalString("source_system") ?? name

        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = parseSchedule(value) }

        var baseURL: String?
        var tls = EndpointTLS()
        var timeout = Duration.seconds(30)
        var maxResponseBytes = 16 << 20
        var auth: HTTPAdapter.AuthDefinition = .none
        if let source = root.required("source") {
            source.allowOnly(ConfigValue.tlsFields.union(["base_url", "timeout", "max_response_bytes", "auth", "allow_plain_http"]))
            let allowPlain = source.bool("allow_plain_http", default: false)
            baseURL = source.url("base_url", allowPlainHTTP: allowPlain)
            tls = source.endpointTLS(url: baseURL)
            timeout = source.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600)))
            maxResponseBytes = source.int("max_response_bytes", default: 16 << 20, range: 1024...(1 << 30))
            if let authValue = source["auth"] { auth = parseAuth(authValue, tls: tls, timeout: timeout, allowPlain: allowPlain) ?? .none }
        }

        var path = "/"
        var query: [(String, String)] = []
        var cursorParameter: String?
        if let request = root.required("request") {
            request.allowOnly(["path", "query", "cursor_param"])
            path = request.string("path") ?? "/"
            if !path.hasPrefix("/") { request["path"]?.report("must start with /") }
            for (key, value) in request["query"]?.entries ?? [] {
                if let text = value.text { query.append((key, text)) }
            }
            cursorParameter = request.optionalString("cursor_param")
        }

        var format: HTTPAdapter.ResponseFormat?
        var numberFormat = NumberFormat.inferred
        if let response = root.required("response") {
            response.allowOnly(["format", "records", "csv", "number_format"])
            if let text = response.optionalString("number_format") {
                if let declared = NumberFormat(rawValue: text) {
                    numberFormat = declared
                } else {
                    response["number_format"]?.report("expected vi (1.234,5), en (1,234.5) or auto, found \"\(ConfigUnits.shown(text))\"")
                }
            }
            switch response.optionalString("format") ?? "json" {
            case let kind where kind == "json" || kind == "xml":
                if response["csv"] != nil { response["csv"]?.report("applies to format: csv only") }
                if let text = response.string("records") {
                    if let path = RecordPath(text) {
                        format = kind == "xml" ? .xml(records: path) : .json(records: path)
                    } else {
                        response["records"]?.report("\"\(text)\" is not a path such as $.data.items")
                    }
                }
            case "csv":
                if response["records"] != nil {
                    response["records"]?.report("applies to format: json or xml only; every CSV row is a record")
                }
                format = .csv(parseCSV(response["csv"]))
            case let other:
                response["format"]?.report("unknown format \"\(other)\"; this version reads: json, xml, csv")
            }
        }

        var pagination: HTTPAdapter.Pagination?
        var maxPages = 1
        if let value = root["pagination"] {
            (pagination, maxPages) = parsePagination(value)
            if case .csv? = format { value.report("pagination applies to JSON and XML answers only") }
        }

        var cursorField: RecordPath?
        if let cursor = root["cursor"] {
            cursor.allowOnly(["from_field"])
            if let text = cursor.string("from_field") {
                cursorField = RecordPath(text)
                if cursorField == nil { cursor["from_field"]?.report("\"\(text)\" is not a field path") }
            }
            if cursorParameter == nil { cursor.report("a cursor needs request.cursor_param to send it to the source") }
        }

        var fields: [String: FieldRule] = [:]
        if let mapping = root.required("mapping") {
            for (field, spec) in mapping.entries {
                guard let type = RecordMapping.mappableFields[field] else {
                    spec.report("not an observation field; mappable: \(RecordMapping.mappableFields.keys.sorted().joined(separator: ", "))")
                    continue
                }
                if let rule = parseField(spec, type: type) { fields[field] = rule }
            }
            for missing in RecordMapping.requiredFields.subtracting(fields.keys).sorted() where mapping[missing] == nil {
                mapping.report("no rule for the required observation field \(missing)")
            }
        }

        guard let name, let baseURL, let format, let sourceSystem else { return nil }
        return HTTPAdapter.Definition(
            name: name, warnings: tls.warnings(endpoint: "adapter \(name)", url: baseURL), schedule: schedule, baseURL: baseURL, path: path,
            query: query, cursorParameter: cursorParameter,
            cursorField: cursorField, format: format, pagination: pagination, maxPages: maxPages,
            mapping: RecordMapping(fields: fields, sourceSystem: sourceSystem, numberFormat: numberFormat),
            tls: tls, timeout: timeout, maxResponseBytes: maxResponseBytes, auth: auth)
    }

    /// `schedule: { every: 15m }` or `{ cron: "0 2 * * *", time_zone: Asia/Ho_Chi_Minh }`, with
    /// optional `jitter`, `retries` and `retry_backoff`.
    static func parseSchedule(_ value: ConfigValue) -> PullSchedule {
        value.allowOnly(["every", "cron", "time_zone", "jitter", "retries", "retry_backoff"])
        var timing = PullSchedule.Timing.every(.seconds(300))
        switch (value["every"], value["cron"]) {
        case (_?, _?):
            value.report("give every or cron, not both")
        case (nil, let cron?):
            let zoneName = value.optionalString("time_zone") ?? PullSchedule.defaultTimeZone.identifier
            let zone = TimeZone(identifier: zoneName)
            if zone == nil { value["time_zone"]?.report("\"\(zoneName)\" is not a time zone name such as Asia/Ho_Chi_Minh") }
            if let text = cron.text {
                do { timing = .cron(try CronExpression(text), zone ?? PullSchedule.defaultTimeZone) } catch {
                    cron.report(error.description)
                }
            } else {
                cron.report("must be a cron expression such as \"0 2 * * *\"")
            }
        case (_?, nil):
            let interval = value.duration("every", default: .seconds(300), range: .seconds(1)...(.seconds(366 * 86_400)))
            if value["time_zone"] != nil { value["time_zone"]?.report("applies to cron only") }
            timing = .every(interval)
        case (nil, nil):
            value.report("give every (e.g. 15m) or cron (e.g. \"0 2 * * *\")")
        }
        let jitter = value.duration("jitter", default: .zero, range: .zero...(.seconds(86_400)))
        let retries = value.int("retries", default: 0, range: 0...20)
        let backoff = value.duration("retry_backoff", default: .seconds(10), range: .zero...(.seconds(86_400)))
        return PullSchedule(timing: timing, jitter: jitter, retries: retries, retryBackoff: backoff)
    }

    /// `pagination: { kind: page | offset | next_link | token, …, max_pages: 100 }`.
    static func parsePagination(_ value: ConfigValue) -> (HTTPAdapter.Pagination?, Int) {
        let maxPages = value.int("max_pages", default: 100, range: 1...100_000)
        func path(_ key: String) -> RecordPath? {
            guard let text = value.string(key) else { return nil }
            guard let path = RecordPath(text) else {
                value[key]?.report("\"\(text)\" is not a path such as $.links.next")
                return nil
            }
            return path
        }
        switch value.string("kind") {
        case "page":
            value.allowOnly(["kind", "max_pages", "page_param", "size_param", "size", "first_page"])
            let size = value.int("size", default: 100, range: 1...100_000)
            guard let parameter = value.string("page_param") else { return (nil, maxPages) }
            return (
                .page(
                    parameter: parameter, sizeParameter: value.optionalString("size_param"), size: size,
                    first: value.int("first_page", default: 1, range: 0...1)), maxPages
            )
        case "offset":
            value.allowOnly(["kind", "max_pages", "offset_param", "limit_param", "limit"])
            let limit = value.int("limit", default: 100, range: 1...100_000)
            guard let offset = value.string("offset_param"), let limitParameter = value.string("limit_param") else {
                return (nil, maxPages)
            }
            return (.offset(offsetParameter: offset, limitParameter: limitParameter, limit: limit), maxPages)
        case "next_link":
            value.allowOnly(["kind", "max_pages", "next"])
            return (path("next").map { .nextLink($0) }, maxPages)
        case "token":
            value.allowOnly(["kind", "max_pages", "token", "token_param"])
            guard let token = path("token"), let parameter = value.string("token_param") else { return (nil, maxPages) }
            return (.token(path: token, parameter: parameter), maxPages)
        case let other?:
            value["kind"]?.report("unknown pagination \"\(other)\"; this version knows: page, offset, next_link, token")
            return (nil, maxPages)
        case nil:
            return (nil, maxPages)
        }
    }

    /// `csv: { delimiter: ";", columns: [...] }`; without `columns` the first row names them.
    static func parseCSV(_ value: ConfigValue?) -> CSVFormat {
        var format = CSVFormat()
        guard let value else { return format }
        value.allowOnly(["delimiter", "columns"])
        if let delimiter = value.optionalString("delimiter") {
            switch delimiter {
            case "tab", "\t": format.delimiter = UInt8(ascii: "\t")
            case ",", ";", "|": format.delimiter = delimiter.utf8.first!
            default: value["delimiter"]?.report("must be \",\", \";\", \"|\" or tab")
            }
        }
        if let columns = value["columns"] {
            let names = columns.items.compactMap(\.text)
            if names.isEmpty || names.count != columns.items.count {
                columns.report("must be a list of column names")
            } else {
                format.columns = names
            }
        }
        return format
    }

    static func parseAuth(_ value: ConfigValue, tls: EndpointTLS, timeout: Duration, allowPlain: Bool) -> HTTPAdapter.AuthDefinition? {
        guard let kind = value.string("kind") else { return nil }
        switch kind {
        case "none":
            value.allowOnly(["kind"])
            return HTTPAdapter.AuthDefinition.none
        case "bearer":
            value.allowOnly(["kind", "token"])
            return value.secret("token").map { .bearer($0) }
        case "oauth2_client_credentials":
            value.allowOnly(["kind", "token_url", "client_id", "client_secret", "scope", "refresh_margin"])
            guard let tokenURL = value.url("token_url", allowPlainHTTP: allowPlain), let clientID = value.string("client_id"),
                let secret = value.secret("client_secret")
            else { return nil }
            return .oauth2ClientCredentials(
                .init(
                    tokenURL: tokenURL, clientID: clientID, clientSecret: secret, scope: value.optionalString("scope"), tls: tls,
                    refreshMargin: value.duration("refresh_margin", default: .seconds(60), range: .zero...(.seconds(86_400))),
                    timeout: timeout))
        case "basic":
            value.allowOnly(["kind", "username", "password"])
            guard let username = value.string("username"), let password = value.secret("password") else { return nil }
            return .basic(username: username, password: password)
        case "api_key":
            value.allowOnly(["kind", "header", "query_param", "key"])
            let header = value.optionalString("header"), parameter = value.optionalString("query_param")
            guard (header == nil) != (parameter == nil) else {
                value.report("give the key's place: header (e.g. X-API-Key) or query_param, one of them")
                return nil
            }
            guard let key = value.secret("key") else { return nil }
            return .apiKey(name: header ?? parameter!, inQuery: parameter != nil, key: key)
        default:
            value["kind"]?.report(
                "unknown auth kind \"\(kind)\"; this version knows: none, bearer, basic, api_key, oauth2_client_credentials")
            return nil
        }
    }

    static func parseField(_ spec: ConfigValue, type: FieldRule.ValueType) -> FieldRule? {
        // A bare scalar is a path: `value: giaTri`.
        if spec.scalarText != nil {
            guard let text = spec.text else { return nil }
            guard let path = RecordPath(text) else {
                spec.report("\"\(text)\" is not a field path")
                return nil
            }
            return FieldRule(origin: .path(path), type: type)
        }
        spec.allowOnly(["path", "const", "lookup", "unmatched", "scale", "optional"])
        let origin: FieldRule.Origin
        switch (spec.optionalString("path"), spec["const"]) {
        case (let path?, nil):
            guard let parsed = RecordPath(path) else {
                spec["path"]?.report("\"\(path)\" is not a field path")
                return nil
            }
            origin = .path(parsed)
        case (nil, let constant?):
            guard let text = constant.text else { return nil }
            origin = .constant(text)
        default:
            spec.report("give exactly one of path or const")
            return nil
        }
        var lookup: [String: String]?
        if let table = spec["lookup"] {
            var entries: [String: String] = [:]
            for (key, value) in table.entries { if let text = value.text { entries[key] = text } }
            lookup = entries
        }
        var keepUnmatched = false
        if let unmatched = spec.optionalString("unmatched") {
            switch unmatched {
            case "keep": keepUnmatched = true
            case "fail": keepUnmatched = false
            default: spec["unmatched"]?.report("expected keep or fail, found \"\(unmatched)\"")
            }
        }
        var scale: Double?
        if let text = spec.optionalString("scale") {
            scale = ConfigUnits.plainNumber(Substring(text)).flatMap { (1e-9...1e9).contains($0) ? $0 : nil }
            if scale == nil {
                spec["scale"]?.report(
                    "expected a number from 0.000000001 to 1000000000 written with digits and a point, such as 0.01 or 100, found \"\(ConfigUnits.shown(text))\""
                )
            }
        }
        return FieldRule(
            origin: origin, type: type, lookup: lookup, keepUnmatched: keepUnmatched, scale: scale,
            optional: spec.bool("optional", default: false))
    }
}
