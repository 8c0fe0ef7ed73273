import GatewayConfig
import GatewayHTTP
import GatewayDelivery

extension GatewayConfiguration {
    /// `delivery:`: retries, the circuit breaker, the outbox's poll and how long delivered reports stay.
    public struct Delivery: Sendable {
        public var retry = RetryPolicy()
        public var breaker = CircuitBreaker.Configuration()
        /// How often the outbox is looked at when nothing rang its doorbell.
        public var poll = Duration.seconds(5)
        /// Keep delivered reports this long; their audit links stay for good.
        public var retention = Duration.seconds(365 * 86_400)
        /// Send a figure again even when the centre holds it with the same value (`resend_unchanged`),
        /// for a centre that wants every pull's figures; by default an unchanged figure is counted, not sent.
        public var resendUnchanged = false

        /// The defaults when the section is absent.
        init(_ section: ConfigValue?) {
            guard let section else { return }
            section.allowOnly([
                "retry_base", "retry_cap", "max_age", "retry_after_max", "retry_statuses", "breaker_failures", "breaker_cooldown", "poll",
                "retention", "resend_unchanged",
            ])
            let day = 86_400
            retention = section.duration("retention", default: retention, range: .seconds(3600)...(.seconds(36_500 * day)))
            var statuses = RetryPolicy.defaultRetryableStatuses
            if let list = section["retry_statuses"] {
                statuses = []
                for item in list.items {
                    guard let text = item.text, let status = Int(text), (400...599).contains(status), ![400, 409, 422].contains(status)
                    else {
                        item.report("expected an HTTP status from 400 to 599 other than 400, 409 and 422")
                        continue
                    }
                    statuses.insert(status)
                }
            }
            retry = RetryPolicy(
                baseDelay: section.duration("retry_base", default: .seconds(1), range: .milliseconds(1)...(.seconds(3600))),
                maxDelay: section.duration("retry_cap", default: .seconds(300), range: .milliseconds(1)...(.seconds(7 * day))),
                maxAge: section.duration("max_age", default: .seconds(30 * day), range: .seconds(1)...(.seconds(3650 * day))),
                retryableStatuses: statuses,
                retryAfterMax: section.duration("retry_after_max", default: .seconds(3600), range: .seconds(1)...(.seconds(7 * day))))
            if retry.maxDelay < retry.baseDelay {
                section["retry_cap"]?.report("must be at least retry_base (\(ConfigUnits.duration(retry.baseDelay)))")
            }
            breaker = CircuitBreaker.Configuration(
                failureThreshold: section.int("breaker_failures", default: 5, range: 1...1000),
                coolDown: section.duration("breaker_cooldown", default: .seconds(30), range: .milliseconds(10)...(.seconds(day))))
            poll = section.duration("poll", default: poll, range: .milliseconds(10)...(.seconds(3600)))
            resendUnchanged = section.bool("resend_unchanged", default: false)
        }
    }
}
