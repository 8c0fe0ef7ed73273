import Foundation
import GatewayConfig
import GatewayContracts
import Crypto
import GatewayHTTP
import GatewayJSON

/// A source system reached over HTTPS and described entirely by one YAML file.
public struct HTTPAdapter: Adapter {
    public struct Definition: Sendable {
        public var name: String
        /// Said at every start: plain HTTP or certificate checks turned off.
        public var warnings: [String]
        public var schedule: PullSchedule
        public var baseURL: String
        public var path: String
        public var query: [(String, String)]
        /// Query parameter that carries the stored cursor, when the source supports incremental pulls.
        public var cursorParameter: String?
        /// Record field whose largest value becomes the next cursor.
        public var cursorField: RecordPath?
        public var format: ResponseFormat
        public var pagination: Pagination?
        /// At most this many requests per pull, so a source that never says "last page" cannot
        /// keep a pull going for ever.
        public var maxPages: Int
        public var mapping: RecordMapping
        public var tls: EndpointTLS
        public var timeout: Duration
        public var maxResponseBytes: Int
        public var auth: AuthDefinition
        /// Where a source that answers HTTP 200 to everything says whether a request worked.
        public var status: ResponseStatus?
        /// How a failed request of a pull is tried again before the pull fails.
        public var retry = PageRetry()
    }

    /// How a source splits a long answer into pages.
    public enum Pagination: Sendable {
        /// `?page=1&size=100`, then 2, 3…; the last page is one with fewer than `size` records.
        case page(parameter: String, sizeParameter: String?, size: Int, first: Int)
        /// `?offset=0&limit=100`, then 100, 200…; the last page is one with fewer than `limit` records.
        case offset(offsetParameter: String, limitParameter: String, limit: Int)
        /// The answer gives the next page's URL at a path; none (or empty) on the last page.
        case nextLink(RecordPath)
        /// The answer gives an opaque token at a path, sent back as a parameter; none on the last page.
        case token(path: RecordPath, parameter: String)

        var firstPageQuery: [(String, String)] {
            switch self {
            case .page(let parameter, let sizeParameter, let size, let first):
                [(parameter, String(first))] + (sizeParameter.map { [($0, String(size))] } ?? [])
            case .offset(let offsetParameter, let limitParameter, let limit): [(offsetParameter, "0"), (limitParameter, String(limit))]
            case .nextLink, .token: []
            }
        }
    }

    public enum ResponseFormat: Sendable {
        /// A JSON document; the records are the list at the path.
        case json(records: RecordPath)
        /// CSV text, one record per row.
        case csv(CSVFormat)
        /// An XML document (WSO2 Data Services and SOAP-era systems); the records are the
        /// elements at the path, one element being a list of one.
        case xml(records: RecordPath)
    }

    public enum AuthDefinition: Sendable {
        case none
        case bearer(Secret)
        case oauth2ClientCredentials(OAuth2ClientCredentials.Configuration)
        case basic(username: String, password: Secret)
        case apiKey(name: String, inQuery: Bool, key: Secret)
        case login(LoginSession.Configuration)
    }

    public let definition: Definition
    private let transport: HTTPTransport
    private let authentication: Authentication

    public var name: String { definition.name }
    public var schedule: PullSchedule { definition.schedule }

    public init(definition: Definition, transport: HTTPTransport) {
        self.definition = definition
        self.transport = transport
        self.authentication = Self.authentication(for: definition.auth, transport: transport)
    }

    /// The credentials an adapter file's `auth` describes, ready to use.
    public static func authentication(for auth: AuthDefinition, transport: HTTPTransport) -> Authentication {
        switch auth {
        case .none: .none
        case .bearer(let token): .bearer(token)
        case .oauth2ClientCredentials(let configuration):
            .oauth2ClientCredentials(OAuth2ClientCredentials(configuration: configuration, transport: transport))
        case .basic(let username, let password): .basic(username: username, password: password)
        case .apiKey(let name, true, let key): .apiKeyQuery(name: name, key: key)
        case .apiKey(let name, false, let key): .apiKeyHeader(name: name, key: key)
        case .login(let configuration): .session(LoginSession(configuration: configuration, transport: transport))
        }
    }

    /// The OAuth2 flow, when the adapter uses one (tests read its token count).
    public var oauth2: OAuth2ClientCredentials? {
        if case .oauth2ClientCredentials(let flow) = authentication { return flow }
        return nil
    }

    public func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
        var records: [PulledRecord] = []
        let nextCursor = try await pullPages(cursor: cursor, context: context) { records += $0 }
        return PullOutput(records: records, nextCursor: nextCursor)
    }

    public func pullPages(cursor: String?, context: PullContext, eachPage: ([PulledRecord]) async throws -> Void) async throws -> String? {
        switch definition.format {
        case .json(let recordsPath), .xml(let recordsPath):
            let mapping = definition.mapping
            var latest = cursor.map { (text: $0, date: Timestamps.parse($0)) }
            try await fetchPages(cursor: cursor, recordsPath: recordsPath) { rawRecords in
                latest = latestCursor(in: rawRecords, after: latest)
                try await eachPage(await ParallelWork.map(rawRecords) { mapping.mapAll($0, context: context) }.flatMap { $0 })
            }
            return latest?.text == cursor ? nil : latest?.text
        case .csv(let format):
            let answer = try await fetch(.first(cursor: cursor, page: []))
            let contentType = (answer.header("Content-Type") ?? "none").lowercased()
            // Exports are served as text/csv, and by some systems as text/plain or an octet stream;
            // an HTML error page is what must not be read as data.
            if let title = HTMLPage.title(of: answer) {
                throw PullError(adapter: name, "source answered with \(HTMLPage.describe(title)) instead of CSV")
            }
            guard ["csv", "text/plain", "octet-stream"].contains(where: contentType.contains) else {
                throw PullError(adapter: name, "source answered with content type \(contentType), expected CSV")
            }
            let table: CSVTable
            do { table = try CSVTable(parsing: answer.body, format: format) } catch {
                throw PullError(adapter: name, "the answer is not readable CSV: \(error)")
            }
            let rows = table.records()
            try await eachPage(
                rows.flatMap { row in
                    row.problem.map { [PulledRecord.failed(record: row.record, reasons: [$0])] }
                        ?? definition.mapping.mapAll(row.record, context: context)
                })
            return nextCursor(after: cursor, from: rows.filter { $0.problem == nil }.map(\.record))
        }
    }

    /// Every page of a JSON or XML answer, up to `maxPages`, given to `body` in order; without
    /// pagination that is one request. The next page is on its way while `body` works on one.
    private func fetchPages(cursor: String?, recordsPath: RecordPath, body: ([JSONValue]) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: (digest: SHA256Digest, document: JSONValue).self) { fetches in
            var request = Request.first(cursor: cursor, page: definition.pagination?.firstPageQuery ?? [])
            fetches.addTask { [request] in try await self.fetchDocument(request, page: 1) }
            // Each page asked for, and each page's content, by the page that first had it: a link
            // back to a page already read, or a source that ignores the page parameter, would
            // otherwise put the same records in the pull up to `max_pages` times.
            var requested = [request.identity: 1]
            var contents: [SHA256Digest: Int] = [:]
            for pageNumber in 1...definition.maxPages {
                guard let (digest, document) = try await fetches.next() else { return }
                if definition.pagination != nil, let earlier = contents.updateValue(pageNumber, forKey: digest) {
                    throw PullError(
                        adapter: name,
                        "the source's pagination loops: page \(pageNumber) is the same as page \(earlier); the pull stops so that no record is reported twice"
                    )
                }
                guard let selected = recordsPath.select(in: document) else {
                    throw PullError(adapter: name, "the answer has nothing at \(recordsPath)")
                }
                let records: [JSONValue]
                switch (selected, definition.format) {
                case (.array(let list), _): records = list
                // XML cannot tell one record from a list of one.
                case (.object, .xml), (.string, .xml): records = [selected]
                default: throw PullError(adapter: name, "\(recordsPath) in the answer is a \(selected.kindName), not a list of records")
                }
                let next = try definition.pagination.flatMap {
                    try nextPage(after: request, pagination: $0, document: document, records: records, pageNumber: pageNumber)
                }
                if let next, let earlier = requested.updateValue(pageNumber + 1, forKey: next.identity) {
                    throw PullError(
                        adapter: name,
                        "the source's pagination loops: page \(pageNumber) points to \(next.shown), already followed as page \(earlier); the pull stops so that no record is reported twice"
                    )
                }
                // At the cap, a pull with a cursor carries on after the last record taken next time.
                if let next, pageNumber < definition.maxPages {
                    fetches.addTask { try await self.fetchDocument(next, page: pageNumber + 1) }
                    request = next
                }
                try await body(records)
                if next == nil { return }
            }
        }
    }

    /// One page as a document, its status checked when the source says one in the body: a
    /// session the source says has expired is logged into again and the page asked for again once.
    private func fetchDocument(_ request: Request, page: Int) async throws -> (digest: SHA256Digest, document: JSONValue) {
        var answer = try await fetch(request)
        var document = try decode(answer, page: page)
        guard let status = definition.status else { return (SHA256.hash(data: answer.body), document) }
        var verdict = status.verdict(of: document)
        if case .sessionExpired = verdict, authentication.refreshes {
            answer = try await fetch(request, forceRefresh: true)
            document = try decode(answer, page: page)
            verdict = status.verdict(of: document)
        }
        switch verdict {
        case .success: return (SHA256.hash(data: answer.body), document)
        case .failure(let said), .sessionExpired(let said):
            throw PullError(adapter: name, "\(said) (for \(definition.path)\(page > 1 ? ", page \(page)" : ""))")
        }
    }

    /// The answer as a document the records path applies to.
    private func decode(_ answer: HTTPAnswer, page: Int) throws -> JSONValue {
        let contentType = (answer.header("Content-Type") ?? "none").lowercased()
        let which = page > 1 ? " (page \(page))" : ""
        if let title = HTMLPage.title(of: answer) {
            throw PullError(adapter: name, "source answered with \(HTMLPage.describe(title)) instead of data\(which)")
        }
        if case .xml = definition.format {
            guard contentType.contains("xml") else {
                throw PullError(adapter: name, "source answered with content type \(contentType), expected XML\(which)")
            }
            do { return try XMLRecords.parse([UInt8](answer.body)) } catch {
                throw PullError(adapter: name, "the answer is not readable XML\(which): \(error)")
            }
        }
        guard contentType.contains("json") else {
            throw PullError(adapter: name, "source answered with content type \(contentType), expected JSON\(which)")
        }
        do { return try JSONValue.parse(answer.body) } catch {
            throw PullError(adapter: name, "the answer is not valid JSON (\(answer.body.count) bytes)\(which)")
        }
    }

    /// What to ask for: the configured request with the cursor and a page's parameters, or a link
    /// the source gave.
    enum Request {
        case first(cursor: String?, page: [(String, String)])
        case link(String)

        /// What makes two requests the same page.
        var identity: String {
            switch self {
            case .first(let cursor, let page): "first \(cursor ?? "") " + page.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            case .link(let url): "link " + url
            }
        }

        /// For an error message: the link without its query's values, which may carry a key.
        var shown: String {
            switch self {
            case .first(_, let page): page.isEmpty ? "the first page" : page.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            case .link(let url): String(url.prefix { $0 != "?" }) + (url.contains("?") ? "?…" : "")
            }
        }
    }

    private func nextPage(after request: Request, pagination: Pagination, document: JSONValue, records: [JSONValue], pageNumber: Int) throws
        -> Request?
    {
        guard case .first(let cursor, let query) = request else {
            return try link(in: document, pagination: pagination)
        }
        switch pagination {
        case .page(let parameter, let sizeParameter, let size, let first):
            guard records.count >= size, !records.isEmpty else { return nil }
            var next = [(parameter, String(first + pageNumber))]
            if let sizeParameter { next.append((sizeParameter, String(size))) }
            return .first(cursor: cursor, page: next)
        case .offset(let offsetParameter, let limitParameter, let limit):
            guard records.count >= limit, !records.isEmpty else { return nil }
            let offset = Int(query.first { $0.0 == offsetParameter }?.1 ?? "0") ?? 0
            return .first(cursor: cursor, page: [(offsetParameter, String(offset + records.count)), (limitParameter, String(limit))])
        case .token(let path, let parameter):
            guard let token = path.select(in: document)?.stringValue, !token.isEmpty else { return nil }
            return .first(cursor: cursor, page: [(parameter, token)])
        case .nextLink:
            return try link(in: document, pagination: pagination)
        }
    }

    /// The next link, resolved against the base URL; only to the same scheme, host and port, so
    /// the adapter's credentials never go to another server.
    private func link(in document: JSONValue, pagination: Pagination) throws -> Request? {
        guard case .nextLink(let path) = pagination, let text = path.select(in: document)?.stringValue, !text.isEmpty else { return nil }
        guard let base = URL(string: definition.baseURL), let resolved = URL(string: text, relativeTo: base)?.absoluteURL,
            resolved.scheme == base.scheme, resolved.host == base.host, resolved.port == base.port
        else {
            throw PullError(adapter: name, "the next-page link points to another server than \(definition.baseURL); it is not followed")
        }
        return .link(resolved.absoluteString)
    }

    /// One request, with the credentials, tried again while it fails in a way that passes (a
    /// 429, a 5xx, a dropped connection: `definition.retry`), never sooner than the source's
    /// `Retry-After`. A 401 to a token that can be renewed (OAuth2, a login) is answered by
    /// fetching a new one once, since it may have been revoked before its expiry.
    private func fetch(_ request: Request, forceRefresh: Bool = false) async throws -> HTTPAnswer {
        let retry = definition.retry
        var attempt = 1
        while true {
            var failure: String
            var retryAfter: Duration?
            do {
                var answer = try await send(request, forceRefresh: forceRefresh)
                if answer.status == 401, authentication.refreshes, !forceRefresh {
                    answer = try await send(request, forceRefresh: true)
                }
                if answer.status == 200 { return answer }
                let page = HTMLPage.title(of: answer).map { ": " + HTMLPage.describe($0) } ?? ""
                failure = "source answered HTTP \(answer.status) for \(definition.path)\(page)"
                guard retry.policy.retryableStatuses.contains(answer.status) else { throw PullError(adapter: name, failure) }
                retryAfter = answer.header("Retry-After").flatMap { RetryAfter.parse($0, now: Date()) }
            } catch let transport as ExchangeFailure {
                failure = transport.message
            }
            guard attempt < retry.attempts else {
                throw PullError(adapter: name, failure + (attempt > 1 ? " (\(attempt) attempts)" : ""))
            }
            if let retryAfter, retryAfter > retry.policy.retryAfterMax {
                throw PullError(
                    adapter: name,
                    "\(failure), asking to wait \(Int(retryAfter.timeInterval.rounded(.up))) s, longer than source.retry.max_retry_after (\(Int(retry.policy.retryAfterMax.timeInterval)) s); the pull is tried again at its next run"
                )
            }
            try await Task.sleep(
                for: retry.policy.delay(afterAttempt: attempt, retryAfter: retryAfter, unitRandom: Double.random(in: 0..<1)))
            attempt += 1
        }
    }

    /// A request that did not get an answer (refused, dropped, timed out): worth another attempt.
    struct ExchangeFailure: Error {
        let message: String
    }

    private func send(_ request: Request, forceRefresh: Bool) async throws -> HTTPAnswer {
        let accept =
            switch definition.format {
            case .csv: "text/csv"
            case .xml: "application/xml, text/xml"
            case .json: "application/json"
            }
        var headers = [("Accept", accept)]
        let credentials: (headers: [(String, String)], query: [(String, String)])
        do { credentials = try await authentication.credentials(forceRefresh: forceRefresh) } catch {
            throw PullError(adapter: name, "authentication failed: \(error)")
        }
        headers += credentials.headers
        let url: String
        switch request {
        case .first(let cursor, let page): url = requestURL(cursor: cursor, extraQuery: page + credentials.query)
        case .link(let link): url = Self.appending(credentials.query, to: link)
        }
        do {
            return try await transport.send(
                method: "GET", url: url, headers: headers, tls: definition.tls, timeout: definition.timeout,
                maxBodyBytes: definition.maxResponseBytes)
        } catch let error as TransportError {
            throw ExchangeFailure(message: error.message)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ExchangeFailure(message: "request to \(definition.baseURL)\(definition.path) failed: \(error)")
        }
    }

    static func appending(_ query: [(String, String)], to link: String) -> String {
        guard !query.isEmpty, var components = URLComponents(string: link) else { return link }
        components.queryItems = (components.queryItems ?? []) + query.map { URLQueryItem(name: $0.0, value: $0.1) }
        return components.string ?? link
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

    /// The largest cursor-field value among the records, if it is not the current one.
    func nextCursor(after current: String?, from records: [JSONValue]) -> String? {
        guard definition.cursorField != nil else { return nil }
        let best = latestCursor(in: records, after: current.map { ($0, Timestamps.parse($0)) })
        return best?.text == current ? nil : best?.text
    }

    /// The largest cursor-field value among the records and `start` (compared as timestamps when they are).
    func latestCursor(in records: [JSONValue], after start: (text: String, date: Date?)?) -> (text: String, date: Date?)? {
        guard let field = definition.cursorField else { return start }
        var best = start
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
        return best
    }
}
