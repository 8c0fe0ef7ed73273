import Foundation

/// How requests to one endpoint prove who sends them.
public enum Authentication: Sendable {
    case none
    case bearer(Secret)
    case oauth2ClientCredentials(OAuth2ClientCredentials)
    /// HTTP basic (RFC 7617).
    case basic(username: String, password: Secret)
    /// An API key in a header such as `X-API-Key`.
    case apiKeyHeader(name: String, key: Secret)
    /// An API key in a query parameter, for systems that take nothing else. The key is then in
    /// the URL, so the gateway never writes request URLs into its messages.
    case apiKeyQuery(name: String, key: Secret)
    /// A token a source's own login request issues (see `SessionCredential`).
    case session(any SessionCredential)

    /// Whether a refused token can be replaced by fetching a new one (OAuth2, a login session).
    public var refreshes: Bool {
        switch self {
        case .oauth2ClientCredentials, .session: true
        default: false
        }
    }

    /// What to add to a request: headers and query parameters. `forceRefresh` discards a cached
    /// token (after the server answered 401 to it).
    public func credentials(forceRefresh: Bool = false) async throws -> (headers: [(String, String)], query: [(String, String)]) {
        switch self {
        case .none: return ([], [])
        case .apiKeyQuery(let name, let key): return ([], [(name, key.reveal())])
        case .apiKeyHeader(let name, let key): return ([(name, key.reveal())], [])
        case .session(let session):
            let header = try await session.header(forceRefresh: forceRefresh)
            return ([(header.name, header.value.reveal())], [])
        default:
            return (try await authorizationHeader(forceRefresh: forceRefresh).map { [("Authorization", $0)] } ?? [], [])
        }
    }

    /// The `Authorization` header value, if any.
    public func authorizationHeader(forceRefresh: Bool = false) async throws -> String? {
        switch self {
        case .none, .apiKeyHeader, .apiKeyQuery, .session: nil
        case .bearer(let token): "Bearer " + token.reveal()
        case .oauth2ClientCredentials(let flow): "Bearer " + (try await flow.accessToken(forceRefresh: forceRefresh)).reveal()
        case .basic(let username, let password): "Basic " + Data("\(username):\(password.reveal())".utf8).base64EncodedString()
        }
    }
}

/// A credential a source issues for a session: the header to send, fetched again when the
/// session ends (`forceRefresh`, after the source refused it).
public protocol SessionCredential: Sendable {
    func header(forceRefresh: Bool) async throws -> (name: String, value: Secret)
}

/// A token fetched on demand and kept until it should be refreshed; concurrent callers share one
/// fetch. What OAuth2 and a source's own login have in common.
public actor TokenCache {
    private let now: @Sendable () -> Date
    private var cached: (token: Secret, refreshAfter: Date)?
    private var refreshing: Task<(Secret, Date), any Error>?
    /// Tokens fetched so far; lets tests and metrics see that the cache works.
    public private(set) var fetched = 0

    public init(now: @escaping @Sendable () -> Date = Date.init) { self.now = now }

    /// The cached token, or a new one from `fetch` (a token and when to refresh it).
    public func token(forceRefresh: Bool, fetch: @escaping @Sendable () async throws -> (Secret, Date)) async throws -> Secret {
        if !forceRefresh, let cached, now() < cached.refreshAfter { return cached.token }
        if forceRefresh { cached = nil }
        if let refreshing { return try await refreshing.value.0 }
        // A child of no structured scope: it must outlive any one caller's cancellation so the
        // other callers waiting on it still get the token.
        let task = Task { try await fetch() }
        refreshing = task
        defer { refreshing = nil }
        let (token, refreshAfter) = try await task.value
        cached = (token, refreshAfter)
        fetched += 1
        return token
    }

    /// When a token with `lifetime` (seconds, as the issuer said) fetched at `started` is renewed:
    /// `margin` before it lapses. A lifetime is believed up to a week: a token "valid for 10^300 s"
    /// would be cached for good, and only a refusal would ever refresh it.
    public static func refreshAfter(started: Date, lifetime: Double, margin: Duration) -> Date {
        let believed = min(max(lifetime, 0), 7 * 86_400)
        return started.addingTimeInterval(max(0, believed - margin.timeInterval))
    }
}

/// OAuth2 client credentials (RFC 6749 §4.4) as WSO2 API Manager fronts LGSP services:
/// `POST {token_url}` with `grant_type=client_credentials`, the consumer key and secret as HTTP
/// basic auth, answered by `{"access_token":…,"token_type":"Bearer","expires_in":3600}`.
///
/// The token is cached until `refreshMargin` before it expires, so a pull never starts with a
/// token about to lapse; concurrent callers share one refresh.
public actor OAuth2ClientCredentials {
    public struct Configuration: Sendable {
        public var tokenURL: String
        public var clientID: String
        public var clientSecret: Secret
        public var scope: String?
        public var tls: EndpointTLS
        public var refreshMargin: Duration
        public var timeout: Duration

        public init(
            tokenURL: String, clientID: String, clientSecret: Secret, scope: String? = nil, tls: EndpointTLS,
            refreshMargin: Duration = .seconds(60), timeout: Duration = .seconds(30)
        ) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope
            self.tls = tls
            self.refreshMargin = refreshMargin
            self.timeout = timeout
        }
    }

    struct TokenAnswer: Decodable {
        let accessToken: String
        let tokenType: String?
        let expiresIn: Double?
        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
        }
    }

    public let configuration: Configuration
    private let transport: HTTPTransport
    private let now: @Sendable () -> Date
    private let cache: TokenCache
    /// Tokens fetched so far; lets tests and metrics see that the cache works.
    public var tokensFetched: Int { get async { await cache.fetched } }

    public init(configuration: Configuration, transport: HTTPTransport, now: @escaping @Sendable () -> Date = Date.init) {
        self.configuration = configuration
        self.transport = transport
        self.now = now
        cache = TokenCache(now: now)
    }

    public func accessToken(forceRefresh: Bool = false) async throws -> Secret {
        try await cache.token(forceRefresh: forceRefresh) { try await self.fetch() }
    }

    private func fetch() async throws -> (Secret, Date) {
        let credentials = Data("\(configuration.clientID):\(configuration.clientSecret.reveal())".utf8).base64EncodedString()
        var form = "grant_type=client_credentials"
        if let scope = configuration.scope {
            form += "&scope=" + (scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? scope)
        }
        let started = now()
        let answer = try await transport.send(
            method: "POST", url: configuration.tokenURL,
            headers: [
                ("Authorization", "Basic " + credentials), ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ],
            body: Data(form.utf8), tls: configuration.tls, timeout: configuration.timeout, maxBodyBytes: 64 << 10)
        guard answer.status == 200 else {
            // The body may echo the request: only RFC 6749's error fields (§5.2) are reported.
            throw TransportError("token endpoint \(configuration.tokenURL) answered \(answer.status)\(Self.oauthError(in: answer.body))")
        }
        guard let token = try? JSONDecoder().decode(TokenAnswer.self, from: answer.body), !token.accessToken.isEmpty else {
            throw TransportError("token endpoint \(configuration.tokenURL) did not answer with an access_token")
        }
        if let type = token.tokenType, type.caseInsensitiveCompare("bearer") != .orderedSame {
            throw TransportError("token endpoint \(configuration.tokenURL) issued a \(type) token, not Bearer")
        }
        let refreshAfter = TokenCache.refreshAfter(started: started, lifetime: token.expiresIn ?? 3600, margin: configuration.refreshMargin)
        return (Secret(token.accessToken), refreshAfter)
    }

    /// `: invalid_scope (scope lgsp:read is required)` from an RFC 6749 §5.2 error answer, with
    /// control characters shown escaped and each part cut to 200 characters; empty otherwise.
    static func oauthError(in body: Data) -> String {
        struct ErrorAnswer: Decodable {
            let error: String
            let errorDescription: String?
            enum CodingKeys: String, CodingKey {
                case error
                case errorDescription = "error_description"
            }
        }
        guard let answer = try? JSONDecoder().decode(ErrorAnswer.self, from: body) else { return "" }
        func shown(_ text: String) -> String {
            String(
                text.unicodeScalars.prefix(200).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        }
        return ": \(shown(answer.error))" + (answer.errorDescription.map { " (\(shown($0)))" } ?? "")
    }
}
