import Crypto
import Foundation
import GatewayHTTP
import GatewayContracts
import GatewaySigning
import GatewayStore
import GatewayJSON

/// The wire form of a delivery request: one report to `/v1/reports`, or several to
/// `/v1/reports/batch` as `{"reports": [JWS, ...]}`, each still signed on its own so the centre
/// keeps per-report proof, and each answered on its own in `{"results": [...]}`.
public enum ReportBatch {
    public struct Request: Sendable {
        public let path: String
        public let headers: [(String, String)]
        public let body: Data
    }

    /// How one report in a batch fared, from the centre's per-report result.
    public struct ItemOutcome: Sendable {
        public let report: LeasedReport
        public let status: Int?
        public let verdict: DeliveryVerdict
        public let detail: String?
    }

    public static let batchPath = "/v1/reports/batch"

    /// One report, exactly as stored, with its own Idempotency-Key.
    public static func single(_ report: LeasedReport) -> Request {
        var headers = [
            ("Content-Type", report.contentType),
            ("Accept", "application/json"),
            ("Idempotency-Key", report.reportID),
            ("Content-Digest", report.contentDigest),
        ]
        if let detached = report.detachedSignature { headers.append((JWSSerialization.detachedHeader, detached)) }
        return Request(path: "/v1/reports", headers: headers, body: report.body)
    }

    /// Several reports in one body. Flattened reports go in as stored, compact ones as strings,
    /// and detached ones as the equivalent flattened JWS (same signature, payload attached).
    public static func request(_ reports: [LeasedReport]) -> Request {
        var body = Data(#"{"reports":["#.utf8)
        // Twenty reports make megabytes: grown step by step, the body was copied at every step.
        body.reserveCapacity(reports.reduce(16) { $0 + itemSize($1) })
        for (index, report) in reports.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(item(report))
        }
        body.append(contentsOf: "]}".utf8)
        // The reports' ids make the key, so the same batch sent again is recognisable as such;
        // each report is deduplicated by its own id in any case.
        let ids = reports.map(\.reportID).joined(separator: ",")
        let key = Hex.lowercase(SHA256.hash(data: Data(ids.utf8)))
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("Idempotency-Key", "batch-" + key),
            ("Content-Digest", ContentDigest.sha256(body)),
        ]
        return Request(path: batchPath, headers: headers, body: body)
    }

    static func item(_ report: LeasedReport) -> Data {
        if let detached = report.detachedSignature {
            let parts = detached.split(separator: ".", omittingEmptySubsequences: false)
            let header = parts.first.map(String.init) ?? ""
            let signature = parts.last.map(String.init) ?? ""
            return Data(#"{"protected":"\#(header)","payload":"\#(Base64URL.encode(report.body))","signature":"\#(signature)"}"#.utf8)
        }
        if report.contentType.hasPrefix("application/jose+json") { return report.body }
        // Compact serialization is base64url and dots only: nothing to escape.
        return Data("\"".utf8) + report.body + Data("\"".utf8)
    }

    /// What an item adds to a batch body, to keep requests under their byte limit.
    static func itemSize(_ report: LeasedReport) -> Int {
        report.detachedSignature == nil ? report.body.count + 3 : report.body.count * 4 / 3 + (report.detachedSignature?.count ?? 0) + 48
    }

    /// Splits `reports`, in order, into requests of at most `maxReports` reports and `maxBytes`
    /// bytes; a report larger than `maxBytes` on its own travels alone.
    public static func split(_ reports: [LeasedReport], maxReports: Int, maxBytes: Int) -> [[LeasedReport]] {
        var requests: [[LeasedReport]] = []
        var current: [LeasedReport] = []
        var bytes = 16
        for report in reports {
            let size = itemSize(report)
            if !current.isEmpty && (current.count == maxReports || bytes + size > maxBytes) {
                requests.append(current)
                current = []
                bytes = 16
            }
            current.append(report)
            bytes += size
        }
        if !current.isEmpty { requests.append(current) }
        return requests
    }

    /// Reads the centre's per-report results. A report the answer does not mention, or an answer
    /// that cannot be read, is tried again: the centre deduplicates, so nothing is counted twice.
    public static func outcomes(
        of reports: [LeasedReport], answer: Data, now: Date, retryable: Set<Int> = RetryPolicy.defaultRetryableStatuses
    ) -> [ItemOutcome] {
        var results: [String: [String: Any]] = [:]
        if let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any],
            let items = object["results"] as? [[String: Any]]
        {
            for item in items {
                if let id = item["report_id"] as? String { results[id] = item }
            }
        }
        return reports.map { report in
            guard let item = results[report.reportID], let status = (item["status"] as? NSNumber)?.intValue else {
                return ItemOutcome(
                    report: report, status: nil,
                    verdict: .retry(after: nil, reason: "the centre's batch answer gave no result for this report"), detail: nil)
            }
            let receipt = item["receipt"] as? String
            let detail = item["detail"] as? String
            var verdict = DeliveryVerdict.classify(
                status: status, body: Data((receipt ?? "").utf8), retryAfter: nil, now: now, retryable: retryable)
            if case .reject(let reason) = verdict, let detail { verdict = .reject(reason: reason + ": " + detail) }
            return ItemOutcome(report: report, status: status, verdict: verdict, detail: detail)
        }
    }
}
