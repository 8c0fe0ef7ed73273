import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

/// Reading an HTTP adapter file: its source, request, response, pagination, cursor and mapping.
extension HTTPAdapter.Definition {
    /// `kind: http` (the default): a source reached over HTTPS, described by the file alone.
    static func parse(_ root: ConfigValue, name: String?) -> HTTPAdapter.Definition? {
        root.allowOnly([
            "name", "kind", "description", "source_system", "schedule", "source", "request", "response", "pagination", "cursor", "mapping",
            "expects",
        ])
        let sourceSystem = root.optionalString("source_system") ?? name

        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = PullSchedule.parse(value) }

        var baseURL: String?
        var tls = EndpointTLS()
        var timeout = Duration.seconds(30)
        var maxResponseBytes = 16 << 20
        var auth: HTTPAdapter.AuthDefinition = .none
        var retry = PageRetry()
        if let source = root.required("source") {
            source.allowOnly(
                ConfigValue.tlsFields.union(["base_url", "timeout", "max_response_bytes", "auth", "allow_plain_http", "retry"]))
            let allowPlain = source.bool("allow_plain_http", default: false)
            baseURL = source.url("base_url", allowPlainHTTP: allowPlain)
            tls = source.endpointTLS(url: baseURL)
            timeout = source.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600)))
            maxResponseBytes = source.int("max_response_bytes", default: 16 << 20, range: 1024...(1 << 30))
            if let authValue = source["auth"] {
                auth =
                    HTTPAdapter.AuthDefinition.parse(authValue, baseURL: baseURL, tls: tls, timeout: timeout, allowPlain: allowPlain)
                    ?? .none
            }
            retry = PageRetry.parse(source["retry"])
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
        var status: ResponseStatus?
        var numberFormat = NumberFormat.inferred
        if let response = root.required("response") {
            response.allowOnly(["format", "records", "csv", "number_format", "status"])
            if let value = response["status"] {
                status = ResponseStatus.parse(value)
                if response.optionalString("format") == "csv" { value.report("applies to format: json only") }
            }
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
                format = .csv(CSVFormat.parse(response["csv"]))
            case let other:
                response["format"]?.report("unknown format \"\(other)\"; this version reads: json, xml, csv")
            }
        }

        var pagination: HTTPAdapter.Pagination?
        var maxPages = 1
        if let value = root["pagination"] {
            (pagination, maxPages) = HTTPAdapter.Pagination.parse(value)
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
        var perRecord: [[String: FieldRule]] = []
        if let mapping = root.required("mapping") {
            // A wide record: one observation per entry, each its own fields over the shared ones.
            if let list = mapping["observations"] {
                for entry in list.items {
                    var own: [String: FieldRule] = [:]
                    for (field, spec) in entry.entries {
                        guard let type = RecordMapping.mappableFields[field] else {
                            spec.report(
                                "not an observation field; mappable: \(RecordMapping.mappableFields.keys.sorted().joined(separator: ", "))")
                            continue
                        }
                        if let rule = FieldRule.parse(spec, type: type) { own[field] = rule }
                    }
                    perRecord.append(own)
                }
                if list.items.isEmpty {
                    list.report("expected a list of the observations each record makes, such as [{ indicator: …, value: … }]")
                }
            }
            for (field, spec) in mapping.entries where field != "observations" {
                guard let type = RecordMapping.mappableFields[field] else {
                    spec.report("not an observation field; mappable: \(RecordMapping.mappableFields.keys.sorted().joined(separator: ", "))")
                    continue
                }
                if let rule = FieldRule.parse(spec, type: type) { fields[field] = rule }
            }
            if perRecord.isEmpty {
                for missing in RecordMapping.requiredFields.subtracting(fields.keys).sorted() where mapping[missing] == nil {
                    mapping.report("no rule for the required observation field \(missing)")
                }
            } else {
                for (index, own) in perRecord.enumerated() {
                    for missing in RecordMapping.requiredFields.subtracting(fields.keys).subtracting(own.keys).sorted() {
                        (mapping["observations"]?.items[index] ?? mapping).report(
                            "no rule for the required observation field \(missing), here or shared")
                    }
                }
            }
        }

        guard let name, let baseURL, let format, let sourceSystem else { return nil }
        return HTTPAdapter.Definition(
            name: name, warnings: tls.warnings(endpoint: "adapter \(name)", url: baseURL), schedule: schedule, baseURL: baseURL, path: path,
            query: query, cursorParameter: cursorParameter,
            cursorField: cursorField, format: format, pagination: pagination, maxPages: maxPages,
            mapping: perRecord.isEmpty
                ? RecordMapping(fields: fields, sourceSystem: sourceSystem, numberFormat: numberFormat)
                : RecordMapping(shared: fields, observations: perRecord, sourceSystem: sourceSystem, numberFormat: numberFormat),
            tls: tls, timeout: timeout, maxResponseBytes: maxResponseBytes, auth: auth, status: status, retry: retry)
    }
}

extension HTTPAdapter.Pagination {
    /// `pagination: { kind: page | offset | next_link | token, …, max_pages: 100 }`.
    static func parse(_ value: ConfigValue) -> (HTTPAdapter.Pagination?, Int) {
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
}

extension CSVFormat {
    /// `csv: { delimiter: ";", columns: [...] }`; without `columns` the first row names them.
    static func parse(_ value: ConfigValue?) -> CSVFormat {
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
}

extension HTTPAdapter.AuthDefinition {
    /// `source.auth`: none, bearer, basic, api_key or oauth2_client_credentials, secrets by reference.
    static func parse(
        _ value: ConfigValue, baseURL: String?, tls: EndpointTLS, timeout: Duration, allowPlain: Bool
    ) -> HTTPAdapter.AuthDefinition? {
        guard let kind = value.string("kind") else { return nil }
        switch kind {
        case "login":
            value.allowOnly([
                "kind", "path", "url", "method", "body", "body_format", "token", "expires_in", "lifetime", "refresh_margin", "header",
                "scheme", "status",
            ])
            let url: String?
            switch (value.optionalString("path"), value["url"]) {
            case (let path?, nil):
                if !path.hasPrefix("/") { value["path"]?.report("must start with /") }
                url = baseURL.map { $0 + path }
            case (nil, .some): url = value.url("url", allowPlainHTTP: allowPlain)
            default:
                value.report("give where to log in: path (on base_url) or url, one of them")
                url = nil
            }
            var fields: [(String, Secret)] = []
            if let body = value.required("body") {
                // A user name may be written as it is; a field whose name says it is a password,
                // a key or a token may not.
                for (name, _) in body.entries {
                    let lowered = name.lowercased()
                    let isSecret = ["pass", "matkhau", "mat_khau", "secret", "key", "token"].contains(where: lowered.contains)
                    if let secret = body.secret(name, allowInline: !isSecret) { fields.append((name, secret)) }
                }
                if body.entries.isEmpty {
                    body.report("expected the login's fields, such as { tenDangNhap: ..., matKhau: credential:... }")
                }
            }
            let method = (value.optionalString("method") ?? "POST").uppercased()
            if !["POST", "PUT", "GET"].contains(method) { value["method"]?.report("expected POST, PUT or GET, found \(method)") }
            let bodyFormat = value.optionalString("body_format") ?? "json"
            if !["json", "form"].contains(bodyFormat) { value["body_format"]?.report("expected json or form, found \(bodyFormat)") }
            func path(_ key: String, required: Bool) -> RecordPath? {
                guard let text = required ? value.string(key) : value.optionalString(key) else { return nil }
                guard let path = RecordPath(text) else {
                    value[key]?.report("\"\(text)\" is not a field path such as duLieu.token")
                    return nil
                }
                return path
            }
            let token = path("token", required: true)
            let expiresIn = path("expires_in", required: false)
            let status = value["status"].flatMap(ResponseStatus.parse)
            guard let url, let token else { return nil }
            return .login(
                LoginSession.Configuration(
                    url: url, method: method, bodyFormat: bodyFormat, fields: fields, token: token, expiresIn: expiresIn,
                    lifetime: value.duration("lifetime", default: .seconds(1800), range: .seconds(10)...(.seconds(7 * 86_400))),
                    refreshMargin: value.duration("refresh_margin", default: .seconds(60), range: .zero...(.seconds(86_400))),
                    header: value.optionalString("header") ?? "Authorization", scheme: value["scheme"]?.text ?? "Bearer", status: status,
                    tls: tls, timeout: timeout))
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
                "unknown auth kind \"\(kind)\"; this version knows: none, bearer, basic, api_key, oauth2_client_credentials, login")
            return nil
        }
    }
}

extension FieldRule {
    /// One `mapping.fields` entry: a path, a constant, a lookup table or a conversion.
    static func parse(_ spec: ConfigValue, type: FieldRule.ValueType) -> FieldRule? {
        // A bare scalar is a path: `value: giaTri`.
        if spec.scalarText != nil {
            guard let text = spec.text else { return nil }
            guard let path = RecordPath(text) else {
                spec.report("\"\(text)\" is not a field path")
                return nil
            }
            return FieldRule(origin: .path(path), type: type)
        }
        spec.allowOnly(["path", "const", "lookup", "unmatched", "skip", "scale", "optional"])
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
        var skipUnmatched = false
        if let unmatched = spec.optionalString("unmatched") {
            switch unmatched {
            case "keep": keepUnmatched = true
            case "fail": keepUnmatched = false
            case "skip": skipUnmatched = true
            default: spec["unmatched"]?.report("expected keep, fail or skip, found \"\(unmatched)\"")
            }
            if lookup == nil { spec["unmatched"]?.report("applies to a lookup table; give lookup as well") }
        }
        var skip: Set<String> = []
        if let list = spec["skip"] {
            skip = Set(list.items.compactMap(\.text))
            if skip.isEmpty { list.report("expected a list of the source's codes whose records are skipped, such as [HS_NOI_BO]") }
            if let both = lookup.flatMap({ table in skip.first { table[$0] != nil } }) {
                list.report("\"\(both)\" is both in the lookup table and skipped; give it one of them")
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
        var rule = FieldRule(
            origin: origin, type: type, lookup: lookup, keepUnmatched: keepUnmatched, scale: scale,
            optional: spec.bool("optional", default: false))
        rule.skip = skip
        rule.skipUnmatched = skipUnmatched
        return rule
    }
}
