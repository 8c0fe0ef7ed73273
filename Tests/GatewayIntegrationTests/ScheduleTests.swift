import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Logging
import Testing

@Suite("Pull schedules")
struct ScheduleTests {
    let vietnam = TimeZone(identifier: "Asia/Ho_Chi_Minh")!

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(
        "cron expressions give the next matching minute in their time zone",
        arguments: [
            ("0 2 * * *", "2026-11-22T01:30:00+07:00", "2026-11-22T02:00:00+07:00"),
            ("0 2 * * *", "2026-11-22T02:00:00+07:00", "2026-11-23T02:00:00+07:00"),
            ("*/15 * * * *", "2026-11-22T10:07:30+07:00", "2026-11-22T10:15:00+07:00"),
            ("0 8 * * 1-5", "2026-11-22T09:00:00+07:00", "2026-11-23T08:00:00+07:00"),  // a Sunday: Monday next
            ("30 6 1 1,4,7,10 *", "2026-11-22T00:00:00+07:00", "2027-01-01T06:30:00+07:00"),
            ("0 0 13 * 5", "2026-11-01T00:00:00+07:00", "2026-11-06T00:00:00+07:00"),  // the 13th or a Friday
            ("5/20 23 * * 0", "2026-11-22T23:30:00+07:00", "2026-11-22T23:45:00+07:00"),
        ])
    func cron(expression: String, after: String, expected: String) throws {
        let cron = try CronExpression(expression)
        #expect(cron.next(after: date(after), in: vietnam) == date(expected))
    }

    @Test("the time zone decides the hour: 02:00 in Hanoi is 19:00 UTC the day before")
    func timeZone() throws {
        let cron = try CronExpression("0 2 * * *")
        #expect(cron.next(after: date("2026-11-22T00:00:00Z"), in: vietnam) == date("2026-11-22T19:00:00Z"))
        #expect(cron.next(after: date("2026-11-22T00:00:00Z"), in: TimeZone(identifier: "UTC")!) == date("2026-11-22T02:00:00Z"))
        // Rare but possible: the next 29 February.
        #expect(try CronExpression("0 0 29 2 *").next(after: date("2026-01-01T00:00:00Z"), in: vietnam) == date("2028-02-28T17:00:00Z"))
    }

    @Test("a schedule's interval, for the alert on a silent adapter: the interval itself, or the gap between a cron's next runs")
    func nominalInterval() throws {
        let now = date("2026-11-22T00:00:00Z")
        #expect(PullSchedule(timing: .every(.seconds(900)), jitter: .seconds(30)).nominalInterval(after: now) == 900)
        #expect(PullSchedule(timing: .cron(try CronExpression("0 2 * * *"), vietnam)).nominalInterval(after: now) == 86_400)
        // Thursday evening in Hanoi: the next runs are Friday and Monday at 08:00.
        #expect(
            PullSchedule(timing: .cron(try CronExpression("0 8 * * 1-5"), vietnam)).nominalInterval(after: date("2026-11-19T12:00:00Z"))
                == 3 * 86_400)
    }

    @Test(
        "bad expressions say what is wrong",
        arguments: [
            ("0 2 * *", "has 4 fields"), ("61 * * * *", "minute \"61\" is outside 0–59"), ("* * * 13 *", "month \"13\" is outside 1–12"),
            ("*/0 * * * *", "step \"0\""), ("a * * * *", "minute \"a\" is not a number"),
            ("0 0 31 2 *", "never fires: none of the months it names has a day 31"), ("0 0 30,31 2 *", "never fires"),
            ("0 0 31 4,6,9,11 *", "never fires"),
        ])
    func badExpressions(expression: String, message: String) {
        let error = #expect(throws: CronExpression.ParseError.self) { try CronExpression(expression) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    struct Counter: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test("jitter moves a run later by at most its amount; retries back off doubling")
    func jitterAndBackoff() {
        let schedule = PullSchedule(timing: .every(.seconds(900)), jitter: .seconds(60), retries: 3, retryBackoff: .seconds(10))
        var random = Counter(state: 7)
        let now = date("2026-11-22T10:00:00+07:00")
        var seen = Set<Int>()
        for _ in 0..<200 {
            let delay = schedule.nextRun(after: now, random: &random).timeIntervalSince(now)
            #expect(delay >= 900 && delay <= 960)
            seen.insert(Int(delay))
        }
        #expect(seen.count > 20)  // spread, not a constant
        #expect([1, 2, 3].map(schedule.retryDelay) == [.seconds(10), .seconds(20), .seconds(40)])
        #expect(
            PullSchedule(timing: .every(.seconds(60)), retries: 20, retryBackoff: .seconds(86_400)).retryDelay(attempt: .max)
                == .seconds(86_400))
    }

    @Test("an adapter file's schedule is checked with its line: every or cron, a real time zone")
    func loading() throws {
        func issues(_ schedule: String) throws -> [String] {
            let directory = try makeTemporaryDirectory()
            try """
            name: a
            schedule: \(schedule)
            source: { base_url: "https://example.org" }
            request: { path: /x }
            response: { records: $.x }
            mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
            """.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
            do {
                let definitions = try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:]))
                #expect(definitions.count == 1)
                return []
            } catch {
                return error.issues.map(\.description)
            }
        }
        #expect(try issues(#"{ cron: "0 2 * * *", jitter: 5m, retries: 2 }"#).isEmpty)
        #expect(try issues(#"{ every: 15m, cron: "0 2 * * *" }"#).contains { $0.contains(":2: schedule: give every or cron, not both") })
        #expect(try issues(#"{ cron: "0 25 * * *" }"#).contains { $0.contains("hour \"25\" is outside 0–23") })
        #expect(try issues(#"{ cron: "0 2 * * *", time_zone: Asia/Hanoi_City }"#).contains { $0.contains("not a time zone name") })
        #expect(try issues(#"{ cron: "0 0 31 2 *" }"#).contains { $0.contains(":2: schedule.cron: \"0 0 31 2 *\" never fires") })
        // Rare is not never: the 29th of February, and the 31st of a month that has one, or a weekday.
        #expect(try issues(#"{ cron: "0 0 29 2 *" }"#).isEmpty)
        #expect(try issues(#"{ cron: "0 0 31 2,3 *" }"#).isEmpty)
        #expect(try issues(#"{ cron: "0 0 31 2 1" }"#).isEmpty)
        #expect(try issues("{ every: 1e17s }").contains { $0.contains("schedule.every: expected a duration such as 250ms") })
        #expect(try issues("{ every: 400d }").contains { $0.contains("schedule.every: expected a duration from 1s to 366d, found 400d") })
        #expect(try issues("{ every: 0.5s }").contains { $0.contains("from 1s to 366d") })
        #expect(
            try issues("{ every: 15m, retries: 3, retry_backoff: 1e300s }").contains {
                $0.contains("schedule.retry_backoff: expected a duration")
            })
    }

    @Test("a failed pull is tried again `retries` times, backing off, then waits for its next run")
    func retries() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let adapters = directory.appendingPathComponent("adapters")
            try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
            // A bearer token the source does not know: every request is a 401.
            try """
            name: refused
            schedule: { every: 1h, retries: 2, retry_backoff: 100ms }
            source:
              base_url: ${LGSP_SOURCE_URL}
              ca_bundle: ${LGSP_SOURCE_CA}
              auth: { kind: bearer, token: "${REFUSED_TOKEN:-not-a-token}" }
            request: { path: /dvc/1.0.0/chi-tieu }
            response: { records: $.duLieu.banGhi }
            mapping: { indicator: maChiTieu, level: capHanhChinh, area: maDonVi, period: kyBaoCao, value: giaTri, unit: donVi }
            """.write(to: adapters.appendingPathComponent("refused.yaml"), atomically: true, encoding: .utf8)
            _ = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": adapters.path], timeout: .seconds(20)
            ) { runtime in
                // Each failed attempt shows in the status at once, its retry as the next run; after the
                // last one the next run is the schedule's, an hour away. Then a second more, to see no
                // further attempt is made.
                guard let status = try await runtime.store.adapterStatuses().first, status.lastError != nil,
                    let next = status.nextRun, next.timeIntervalSinceNow > 60
                else { return false }
                try await Task.sleep(for: .seconds(1))
                return true
            }
            #expect(running.source.statistics.unauthorizedRequests == 3)
            let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false)
            let status = try #require(try await store.adapterStatuses().first)
            let nextRun = try #require(status.nextRun)
            #expect(abs(nextRun.timeIntervalSinceNow - 3600) < 60)
        }
    }

    @Test("a cron adapter pulls once at start, then plans its next run at the cron's time in its zone, plus at most its jitter")
    func cronInTheRuntime() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let adapters = directory.appendingPathComponent("adapters")
            try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
            try """
            name: nightly
            schedule: { cron: "0 2 * * *", time_zone: Asia/Ho_Chi_Minh, jitter: 30s }
            \(mockSourceYAML)
            request: { path: /dvc/1.0.0/chi-tieu }
            response: { records: $.duLieu.banGhi }
            \(portalMappingYAML)
            """.write(to: adapters.appendingPathComponent("nightly.yaml"), atomically: true, encoding: .utf8)
            let started = Date()
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": adapters.path], timeout: .seconds(30)
            ) { runtime in
                try await runtime.store.adapterStatuses().first?.lastSuccess != nil
            }
            #expect(result.totals.pulls == 1)
            #expect(result.totals.pulledRecords == running.source.configuration.dataset.portalRecords.count)
            let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false)
            let nextRun = try #require(try await store.adapterStatuses().first?.nextRun)
            // 02:00 in Hanoi is 19:00 UTC: the first one after the start.
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let nineteen = try #require(
                utc.nextDate(after: started, matching: DateComponents(hour: 19, minute: 0, second: 0), matchingPolicy: .strict))
            #expect(nextRun >= nineteen && nextRun <= nineteen.addingTimeInterval(30), "next run \(nextRun), cron time \(nineteen)")
        }
    }
}
