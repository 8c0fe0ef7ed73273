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

    /// What to add to a request: headers and query parameters. `forceRefresh` discards a cached
    /// token (after the server answered 401 to it).
    public func credentials(forceRefresh: Bool = false) async throws -> (headers: [(String, String)], query: [(String, String)]) {
        switch self {
        case .none: return ([], [])
        case .apiKeyQuery(let name, let key): return ([], [(name, key.reveal())])
        case .apiKeyHeader(let name, let key): return ([(name, key.reveal())], [])
        default:
            return (try await authorizationHeader(forceRefresh: forceRefresh).map { [("Authorization", $0)] } ?? [], [])
        }
    }

    /// The `Authorization` header value, if any.
    public func authorizationHeader(forceRefresh: Bool = false) async throws -> String? {
        switch self {
        case .none, .apiKeyHeader, .apiKeyQuery: nil
        case .bearer(let token): "Bearer " + token.reveal()
        case .oauth2ClientCredentials(let flow): "Bearer " + (try await flow.accessToken(forceRefresh: forceRefresh)).reveal()
        case .basic(let username, let password): "Basic " + Data("\(username):\(password.reveal())".utf8).base64EncodedString()
        }
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
    private var cached: (token: Secret, refreshAfter: Date)?
    private var refreshing: Task<(Secret, Date), any Error>?
    /// Tokens fetched so far; lets tests and metrics see that the cache works.
    public private(set) var tokensFetched = 0

    public init(configuration: Configuration, transport: HTTPTransport, now: @escaping @Sendable () -> Date = Date.init) {
        self.configuration = configuration
        self.transport = transport
        self.now = now
    }

    public func accessToken(forceRefresh: Bool = false) async throws -> Secret {
        if !forceRefresh, let cached, now() < cached.refreshAfter { return cached.token }
        if forceRefresh { cached = nil }
        if let refreshing { return try await refreshing.value.0 }
        // A child of no structured scope: it must outlive any one caller's cancellation so the
        // other callers waiting on it still get the token.
        let task = Task { try await self.fetch() }
        refreshing = task
        defer { refreshing = nil }
        let (token, refreshAfter) = try await task.value
        cached = (token, refreshAfter)
        tokensFetched += 1
        return token
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
            // The body may echo the request; only the status is safe to report.
            throw TransportError("token endpoint \(configuration.tokenURL) answered \(answer.status)")
        }
        guard let token = try? JSONDecoder().decode(TokenAnswer.self, from: answer.body), !token.accessToken.isEmpty else {
            throw TransportError("token endpoint \(configuration.tokenURL) did not answer with an access_token")
        }
        if let type = token.tokenType, type.caseInsensitiveCompare("bearer") != .orderedSame {
            throw TransportError("token endpoint \(configuration.tokenURL) issued a \(type) token, not Bearer")
        }
        // A lifetime from the peer is believed up to a week: a token "valid for 10^300 s" would be
        // cached for good, and only a 401 would ever refresh it.
        let lifetime = min(token.expiresIn ?? 3600, 7 * 86_400)
        let refreshAfter = started.addingTimeInterval(max(0, lifetime - configuration.refreshMargin.timeInterval))
        return (Secret(token.accessToken), refreshAfter)
    }
}
