import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

/// A source system reached over HTTPS and described entirely by one YAML file.
public struct HTTPAdapter: Adapter {
    public struct Definition: Sendable {
        public var name: String
        /// Said at every start: plain HTTP or certificate checks turned off.
        public var warnings: [String]
        public var interval: Duration
        public var baseURL: String
        public var path: String
        public var query: [(String, String)]
        /// Query parameter that carries the stored cursor, when the source supports incremental pulls.
        public var cursorParameter: String?
        /// Record field whose largest value becomes the next cursor.
        public var cursorField: RecordPath?
        public var format: ResponseFormat
        public var mapping: RecordMapping
        public var tls: EndpointTLS
        public var timeout: Duration
        public var maxResponseBytes: Int
        public var auth: AuthDefinition
    }

    public enum ResponseFormat: Sendable {
        /// A JSON document; the records are the list at the path.
        case json(records: RecordPath)
        /// CSV text, one record per row.
        case csv(CSVFormat)
    }

    public enum AuthDefinition: Sendable {
        case none
        case bearer(Secret)
        case oauth2ClientCredentials(OAuth2ClientCredentials.Configuration)
        case basic(username: String, password: Secret)
        case apiKey(name: String, inQuery: Bool, key: Secret)
    }

    public let definition: Definition
    private let transport: HTTPTransport
    private let authentication: Authentication

    public var name: String { definition.name }
    public var interval: Duration { definition.interval }

    public init(definition: Definition, transport: HTTPTransport) {
        self.definition = definition
        self.transport = transport
        switch definition.auth {
        case .none: authentication = .none
        case .bearer(let token): authentication = .bearer(token)
        case .oauth2ClientCredentials(let configuration):
            authentication = .oauth2ClientCredentials(OAuth2ClientCredentials(configuration: configuration, transport: transport))
        case .basic(let username, let password): authentication = .basic(username: username, password: password)
        case .apiKey(let name, true, let key): authentication = .apiKeyQuery(name: name, key: key)
        case .apiKey(let name, false, let key): authentication = .apiKeyHeader(name: name, key: key)
        }
    }

    /// The OAuth2 flow, when the adapter uses one (tests read its token count).
    public var oauth2: OAuth2ClientCredentials? {
        if case .oauth2ClientCredentials(let flow) = authentication { return flow }
        return nil
    }

    public func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
        var answer = try await fetch(cursor: cursor, forceRefresh: false)
        if answer.status == 401, case .oauth2ClientCredentials = authentication {
            // The token may have been revoked before its expiry: fetch a new one, once.
            answer = try await fetch(cursor: cursor, forceRefresh: true)
        }
        guard answer.status == 200 else {
            throw PullError(adapter: name, "source answered HTTP \(answer.status) for \(definition.path)")
        }
        let contentType = (answer.header("Content-Type") ?? "none").lowercased()
        switch definition.format {
        case .json(let recordsPath):
            guard contentType.contains("json") else {
                throw PullError(adapter: name, "source answered with content type \(contentType), expected JSON")
            }
            let document: JSONValue
            do { document = try JSONValue.parse(answer.body) } catch {
                throw PullError(adapter: name, "the answer is not valid JSON (\(answer.body.count) bytes)")
            }
            guard let selected = recordsPath.select(in: document) else {
                throw PullError(adapter: name, "the answer has nothing at \(recordsPath)")
            }
            guard case .array(let rawRecords) = selected else {
                throw PullError(adapter: name, "\(recordsPath) in the answer is a \(selected.kindName), not a list of records")
            }
            let records = rawRecords.map { definition.mapping.map($0, context: context) }
            return PullOutput(records: records, nextCursor: nextCursor(after: cursor, from: rawRecords))
        case .csv(let format):
            // Exports are served as text/csv, and by some systems as text/plain or an octet stream;
            // an HTML error page is what must not be read as data.
            guard ["csv", "text/plain", "octet-stream"].contains(where: contentType.contains) else {
                throw PullError(adapter: name, "source answered with content type \(contentType), expected CSV")
            }
            let table: CSVTable
            do { table = try CSVTable(parsing: answer.body, format: format) } catch {
                throw PullError(adapter: name, "the answer is not readable CSV: \(error)")
            }
            let rows = table.records()
            let records = rows.map { row in
                row.problem.map { PulledRecord.failed(record: row.record, reasons: [$0]) } ?? definition.mapping.map(row.record, context: context)
            }
            return PullOutput(records: records, nextCursor: nextCursor(after: cursor, from: rows.filter { $0.problem == nil }.map(\.record)))
        }
    }

    private func fetch(cursor: String?, forceRefresh: Bool) async throws -> HTTPAnswer {
        var headers = [("Accept", { if case .csv = definition.format { "text/csv" } else { "application/json" } }())]
        let credentials: (headers: [(String, String)], query: [(String, String)])
        do { credentials = try await authentication.credentials(forceRefresh: forceRefresh) } catch {
            throw PullError(adapter: name, "authentication failed: \(error)")
        }
        headers += credentials.headers
        let url = requestURL(cursor: cursor, extraQuery: credentials.query)
        do {
            return try await transport.send(
                method: "GET", url: url, headers: headers, tls: definition.tls, timeout: definition.timeout,
                maxBodyBytes: definition.maxResponseBytes)
        } catch let error as TransportError {
            throw PullError(adapter: name, error.message)
        } catch {
            throw PullError(adapter: name, "request to \(definition.baseURL)\(definition.path) failed: \(error)")
        }
    }

    func requestURL(cursor: String?, extraQuery: [(String, String)] = []) -> String {
        var components = URLComponents(string: definition.baseURL + definition.path)!
        var items = (definition.query + extraQuery).map { URLQueryItem(name: $0.0, value: $0.1) }
        if let cursor, let parameter = definition.cursorParameter { items.append(URLQueryItem(name: parameter, value: cursor)) }
        if !items.isEmpty { components.queryItems = items }
        // `+` in a timestamp offset must reach the server as `+`, not as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string!
    }

    /// The largest cursor-field value among the records (compared as timestamps when they are).
    func nextCursor(after current: String?, from records: [JSONValue]) -> String? {
        guard let field = definition.cursorField else { return nil }
        var best: (text: String, date: Date?)? = current.map { ($0, Timestamps.parse($0)) }
        for record in records {
            guard let text = field.select(in: record)?.stringValue else { continue }
            let date = Timestamps.parse(text)
            if let existing = best {
                let later = if let date, let existingDate = existing.date { date > existingDate } else { text > existing.text }
                if later { best = (text, date) }
            } else {
                best = (text, date)
            }
        }
        return best?.text == current ? nil : best?.text
    }
}
