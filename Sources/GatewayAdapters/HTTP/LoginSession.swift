import Foundation
import GatewayConfig
import GatewayHTTP
import GatewayJSON

/// A source's own login: a request (a JSON or form body built from the adapter's secrets) whose
/// answer holds a token, sent with every request until it lapses or the source says the session
/// has expired, then fetched again. Many Vietnamese government APIs log in this way rather than
/// with OAuth2, and say a refused login with HTTP 200 and a code in the body.
///
/// ```yaml
/// auth:
///   kind: login
///   path: /api/dang-nhap           # on base_url (or url: for another host)
///   body: { tenDangNhap: "${SGD_USER}", matKhau: "credential:sgd-password" }
///   token: duLieu.token
///   expires_in: duLieu.thoiHan      # seconds, when the answer says; else lifetime
///   status: { code: maLoi, success: [0, "00"], message: thongBao }
/// ```
public actor LoginSession: SessionCredential {
    public struct Configuration: Sendable {
        public var url: String
        public var method = "POST"
        /// `json` (the default) or `form` (`application/x-www-form-urlencoded`).
        public var bodyFormat = "json"
        /// Every value is a secret: none is ever written to a log or a message.
        public var fields: [(String, Secret)]
        public var token: RecordPath
        public var expiresIn: RecordPath?
        public var lifetime = Duration.seconds(1800)
        public var refreshMargin = Duration.seconds(60)
        public var header = "Authorization"
        /// Written before the token with a space; empty sends the token alone.
        public var scheme = "Bearer"
        public var status: ResponseStatus?
        public var tls: EndpointTLS
        public var timeout: Duration
    }

    public let configuration: Configuration
    private let transport: HTTPTransport
    private let cache: TokenCache
    /// Logins made so far, for tests.
    public var logins: Int { get async { await cache.fetched } }

    public init(configuration: Configuration, transport: HTTPTransport, now: @escaping @Sendable () -> Date = Date.init) {
        self.configuration = configuration
        self.transport = transport
        cache = TokenCache(now: now)
    }

    public func header(forceRefresh: Bool) async throws -> (name: String, value: Secret) {
        let token = try await cache.token(forceRefresh: forceRefresh) { try await self.login() }
        return (configuration.header, configuration.scheme.isEmpty ? token : Secret(configuration.scheme + " " + token.reveal()))
    }

    private func login() async throws -> (Secret, Date) {
        let started = Date()
        let body: Data
        let contentType: String
        if configuration.bodyFormat == "form" {
            contentType = "application/x-www-form-urlencoded"
            body = Data(
                configuration.fields.map { "\(Self.formEncoded($0.0))=\(Self.formEncoded($0.1.reveal()))" }.joined(separator: "&").utf8)
        } else {
            contentType = "application/json"
            body = try JSONValue.object(JSONObject(Dictionary(configuration.fields.map { ($0.0, .string($0.1.reveal())) }) { $1 }))
                .canonicalData()
        }
        let answer = try await transport.send(
            method: configuration.method, url: configuration.url, headers: [("Content-Type", contentType), ("Accept", "application/json")],
            body: body, tls: configuration.tls, timeout: configuration.timeout, maxBodyBytes: 256 << 10)
        // Only the status, a page's title and the source's own status message are reported: the
        // body may echo the credentials.
        guard answer.status == 200 else {
            let page = HTMLPage.title(of: answer).map { ": " + HTMLPage.describe($0) } ?? ""
            throw TransportError("login at \(configuration.url) answered HTTP \(answer.status)\(page)")
        }
        guard let document = try? JSONValue.parse(answer.body) else {
            let page = HTMLPage.title(of: answer).map { HTMLPage.describe($0) } ?? "not JSON"
            throw TransportError("login at \(configuration.url) answered \(page)")
        }
        if let status = configuration.status, case let verdict = status.verdict(of: document), verdict != .success {
            switch verdict {
            case .failure(let said), .sessionExpired(let said): throw TransportError("login at \(configuration.url) was refused: \(said)")
            case .success: break
            }
        }
        guard case .string(let token)? = configuration.token.select(in: document), !token.isEmpty else {
            throw TransportError("login at \(configuration.url) answered without a token at \(configuration.token)")
        }
        let lifetime =
            configuration.expiresIn.flatMap { $0.select(in: document) }.flatMap { value -> Double? in
                switch value {
                case .number(let seconds): seconds
                case .string(let text): Double(text)
                default: nil
                }
            } ?? configuration.lifetime.timeInterval
        return (Secret(token), TokenCache.refreshAfter(started: started, lifetime: lifetime, margin: configuration.refreshMargin))
    }

    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
