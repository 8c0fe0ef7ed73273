import Foundation
import GatewayHTTP

/// What an answer from the central endpoint means for the report, per the wire contract.
public enum DeliveryVerdict: Sendable, Equatable {
    /// 201/202: accepted now; 200/409: the centre already had it. Both are success.
    case delivered(receipt: String?)
    /// 408, 425, 429, 5xx, 401/403 and network failures: try again later.
    case retry(after: Duration?, reason: String)
    /// 400, 422 and other 4xx: the report will never be accepted as it is.
    case reject(reason: String)

    public static func classify(
        status: Int, body: Data, retryAfter: String?, now: Date, retryable: Set<Int> = RetryPolicy.defaultRetryableStatuses
    ) -> DeliveryVerdict {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        switch status {
        case 200, 201, 202: return .delivered(receipt: text.isEmpty ? nil : text)
        case 409: return .delivered(receipt: text.isEmpty ? nil : text)
        case _ where retryable.contains(status):
            return .retry(after: retryAfter.flatMap { RetryAfter.parse($0, now: now) }, reason: "central endpoint answered \(status)")
        case 401, 403:
            return .retry(after: nil, reason: "central endpoint refused our credentials (\(status))")
        default:
            return .reject(reason: "central endpoint rejected the report (\(status))")
        }
    }
}
