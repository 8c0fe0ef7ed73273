import GatewayConfig
import GatewayHTTP
import GatewayJSON

/// Where a source that answers every request with HTTP 200 says whether it worked: a code (the
/// `maLoi` of Vietnamese government APIs), the values that mean success (`0`, `"00"`), the
/// message beside it (`thongBao`) and the codes that mean the session has expired.
///
/// ```yaml
/// response:
///   status: { code: maLoi, success: [0, "00"], message: thongBao, session_expired: [401] }
/// ```
public struct ResponseStatus: Sendable {
    public var code: RecordPath
    /// Compared as text: `0` and `"0"` are one code, as sources write either.
    public var success: Set<String>
    public var message: RecordPath?
    public var sessionExpired: Set<String>

    public enum Verdict: Sendable, Equatable {
        case success
        case sessionExpired(String)
        case failure(String)
    }

    /// What `document` says; a document without the code is a failure, so a proxy's answer or
    /// another service's is never read as data.
    public func verdict(of document: JSONValue) -> Verdict {
        guard let found = code.select(in: document), let text = Self.text(found) else {
            return .failure("the answer has no status code at \(code)")
        }
        if success.contains(text) { return .success }
        let said =
            message.flatMap { $0.select(in: document) }.flatMap(Self.text).map { ": \(ConfigUnits.shown(String($0.prefix(300))))" } ?? ""
        let description = "the source answered with code \(ConfigUnits.shown(text))\(said)"
        return sessionExpired.contains(text) ? .sessionExpired(description) : .failure(description)
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        default: nil
        }
    }

    static func parse(_ value: ConfigValue) -> ResponseStatus? {
        value.allowOnly(["code", "success", "message", "session_expired"])
        func path(_ key: String, required: Bool) -> RecordPath? {
            guard let text = required ? value.string(key) : value.optionalString(key) else { return nil }
            guard let path = RecordPath(text) else {
                value[key]?.report("\"\(text)\" is not a field path such as maLoi or $.ketQua.ma")
                return nil
            }
            return path
        }
        func codes(_ key: String) -> Set<String>? {
            guard let list = value[key] else { return nil }
            let texts = list.items.compactMap(\.scalarText)
            if texts.isEmpty { list.report("expected a list of codes such as [0, \"00\"]") }
            return Set(texts)
        }
        guard let code = path("code", required: true) else { return nil }
        guard let success = codes("success") else {
            value.report("success: the codes that mean the request worked are required, such as [0, \"00\"]")
            return nil
        }
        return ResponseStatus(
            code: code, success: success, message: path("message", required: false), sessionExpired: codes("session_expired") ?? [])
    }
}

/// Retries of one request within a pull: a 429, a 5xx (often a proxy's HTML page), a dropped
/// connection or a timeout, met on any page, is tried again with exponential backoff and full
/// jitter, never sooner than the source's `Retry-After`, before the pull as a whole fails.
///
/// ```yaml
/// source:
///   retry: { attempts: 4, backoff: 500ms, max_backoff: 10s, max_retry_after: 2m }
/// ```
public struct PageRetry: Sendable {
    /// Attempts in all, the first included: 1 turns retrying off.
    public var attempts = 4
    public var policy = RetryPolicy(
        baseDelay: .milliseconds(500), maxDelay: .seconds(10), retryableStatuses: Set([408, 425, 429, 500, 502, 503, 504]),
        retryAfterMax: .seconds(120))

    public init() {}

    static func parse(_ value: ConfigValue?) -> PageRetry {
        var retry = PageRetry()
        guard let value else { return retry }
        value.allowOnly(["attempts", "backoff", "max_backoff", "max_retry_after"])
        retry.attempts = value.int("attempts", default: retry.attempts, range: 1...20)
        retry.policy.baseDelay = value.duration("backoff", default: retry.policy.baseDelay, range: .milliseconds(1)...(.seconds(600)))
        retry.policy.maxDelay = value.duration("max_backoff", default: retry.policy.maxDelay, range: .milliseconds(1)...(.seconds(3600)))
        retry.policy.retryAfterMax = value.duration(
            "max_retry_after", default: retry.policy.retryAfterMax, range: .zero...(.seconds(3600)))
        return retry
    }
}

/// An HTML page where data was expected (a proxy's error page, a login form): its title, for a
/// message that says what came instead of failing to parse it.
enum HTMLPage {
    static func title(of answer: HTTPAnswer) -> String? {
        let contentType = (answer.header("Content-Type") ?? "").lowercased()
        let head = String(decoding: answer.body.prefix(4096), as: UTF8.self)
        let lowered = head.lowercased()
        let trimmed = lowered.drop { $0.isWhitespace || $0 == "\u{FEFF}" }
        // By its bytes as well as its label: a source that labels JSON text/html is not sending a page.
        guard trimmed.hasPrefix("<"), contentType.contains("html") || trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html")
        else { return nil }
        guard let open = head.range(of: "<title", options: .caseInsensitive),
            let close = head.range(of: ">", range: open.upperBound..<head.endIndex),
            let end = head.range(of: "</title>", options: .caseInsensitive, range: close.upperBound..<head.endIndex)
        else { return "" }
        let title = head[close.upperBound..<end.lowerBound].split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return ConfigUnits.shown(String(title.prefix(160)))
    }

    /// `HTML page "503 Service Unavailable"`, for messages.
    static func describe(_ title: String) -> String { title.isEmpty ? "an HTML page" : "an HTML page \"\(title)\"" }
}
