import Foundation
import GatewayConfig
import GatewayHTTP
import GatewaySigning

extension GatewayConfiguration {
    /// `central:`: the reporting endpoint, how to reach it and how much to send it at once.
    public struct Central: Sendable {
        public var url: String
        public var tls: EndpointTLS
        public var token: Secret?
        /// The whole exchange of one request, body included.
        public var timeout: Duration
        /// Sign each request with RFC 9421 HTTP Message Signatures too.
        public var httpSignatures: Bool
        /// The centre's receipt keys, by kid; receipts are verified when set.
        public var receiptKeys: [String: VerificationKey]?
        /// Deliveries under way at once.
        public var maxConcurrent: Int
        /// Reports per request (1: one per request; more: batches to `/v1/reports/batch`).
        public var maxReportsPerRequest: Int
        /// A batch's byte limit.
        public var maxBytesPerRequest: Int

        init?(_ section: ConfigValue?, warnings: inout [String]) {
            guard let section else { return nil }
            section.allowOnly(
                ConfigValue.tlsFields.union([
                    "url", "timeout", "token", "allow_plain_http", "http_signatures", "receipt_keys", "max_concurrent",
                    "batch_max_reports", "batch_max_bytes",
                ]))
            maxConcurrent = section.int("max_concurrent", default: 4, range: 1...64)
            maxReportsPerRequest = section.int("batch_max_reports", default: 1, range: 1...10_000)
            maxBytesPerRequest = Int(section.size("batch_max_bytes", default: 8 << 20, range: (64 << 10)...(1 << 30)))
            if let path = section.path("receipt_keys", required: false) {
                do {
                    receiptKeys = try JSONDecoder().decode(JWKS.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
                        .verificationKeys()
                } catch {
                    section["receipt_keys"]?.report("\(path) is not a readable JWKS of the centre's receipt keys")
                }
            }
            let allowPlain = section.bool("allow_plain_http", default: false)
            let url = section.url("url", allowPlainHTTP: allowPlain)
            tls = section.endpointTLS(url: url)
            if let url { warnings += tls.warnings(endpoint: "central.url", url: url) }
            timeout = section.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600)))
            token = section["token"] != nil ? section.secret("token") : nil
            httpSignatures = section.bool("http_signatures", default: false)
            guard let url else { return nil }
            self.url = url
        }
    }
}
