import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDelivery
import GatewayTestKit
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import Synchronization
import Testing
import GatewayPipeline

/// A hostile centre and hostile sources over HTTPS on loopback: what a gateway must survive
/// without crashing, hanging, parking reports for years or signing what it should not.
@Suite("Hostile peers", .serialized)
struct HostilePeerTests {
    /// Which step of a scripted run a test has reached, shared with the run's condition.
    final class Steps: Sendable {
        let value = Mutex<[String: String]>([:])
        func set(_ key: String, _ text: String) { value.withLock { $0[key] = text } }
        func get(_ key: String) -> String? { value.withLock { $0[key] } }
    }

    @Test(
        "an absurd Retry-After neither kills the gateway nor parks reports past retry_after_max",
        arguments: [
            "99999999999999999", "315360000", "Fri, 31 Dec 9999 23:59:59 GMT",
        ])
    func absurdRetryAfter(header: String) async throws {
        try await withSignedMocks { running, directory, keyPath in
            running.central.setHostility(.retryAfter(header))
            let steps = Steps()
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_RETRY_AFTER_MAX": "2s", "LGSP_BREAKER_FAILURES": "1000"]
            ) { runtime in
                if steps.get("refused") == nil {
                    let pending = try await runtime.store.entries(state: .pending, limit: 10_000).filter { $0.lastStatus == 503 }
                    guard !pending.isEmpty else { return false }
                    let latest = pending.map(\.nextAttemptAt).max()!
                    steps.set("refused", "\(pending.count)")
                    steps.set("latest", "\(latest.timeIntervalSinceNow)")
                    running.central.setHostility(nil)
                    return false
                }
                return try await allPulledAndDelivered(runtime)
            }
            let latest = try #require(steps.get("latest").flatMap(Double.init))
            // At most retry_after_max from the moment it was answered, never 2036 or 9999.
            #expect(latest <= 2.5, "a report was parked \(latest) s ahead by Retry-After: \(header)")
            #expect(result.stats.undelivered == 0 && result.stats.deadLettered == 0)
            #expect(running.central.statistics.duplicateObservations == 0)
        }
    }

    @Test("reports parked far ahead by the centre's Retry-After are sent at once by outbox retry --now")
    func retryPendingNow() async throws {
        try await withSignedMocks { running, directory, keyPath in
            running.central.setHostility(.retryAfter("315360000"))
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let overrides = ["LGSP_RETRY_AFTER_MAX": "7d", "LGSP_BREAKER_FAILURES": "1000"]
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { runtime in
                let stats = try await runtime.store.outboxStats(now: Date())
                let pending = try await runtime.store.entries(state: .pending, limit: 10_000)
                let pulled = try await runtime.store.adapterStatuses().count { $0.lastSuccess != nil } == runtime.adapters.count
                return pulled && stats.inFlight == 0 && !pending.isEmpty && pending.allSatisfy { $0.lastStatus == 503 }
            }
            let parked = try await SQLiteStore(path: storePath, exclusive: false).entries(state: .pending, limit: 10_000)
            #expect(parked.allSatisfy { $0.nextAttemptAt.timeIntervalSinceNow > 6 * 86_400 }, "\(parked.map(\.nextAttemptAt))")

            let outbox = outboxCommand(running, directory: directory, keyPath: keyPath, storePath: storePath, overrides: overrides)
            // Without --now only dead letters are touched; a pending report named is refused.
            let (_, plain) = try await outbox(["retry", "--all"])
            #expect(plain.contains("no dead letters"), "\(plain)")
            let (refused, refusal) = try await outbox(["retry", parked[0].reportID])
            #expect(refused != 0 && refusal.contains("cannot requeue from state pending"), "\(refusal)")
            let (status, sent) = try await outbox(["retry", "--now", "--all"])
            #expect(status == 0 && sent.split(separator: "\n").count == parked.count && sent.contains("due now"), "\(sent)")

            running.central.setHostility(nil)
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides, timeout: .seconds(60)) {
                runtime in
                try await runtime.store.outboxStats(now: Date()).undelivered == 0
            }
            #expect(running.central.statistics.acceptedReports == parked.count)
        }
    }

    @Test("a centre that answers 201 and trickles its body frees every slot at the deadline; readiness says it is failing")
    func tricklingCentre() async throws {
        try await withSignedMocks { running, directory, keyPath in
            running.central.setHostility(.trickle(interval: .milliseconds(500)))
            let steps = Steps()
            let events = EventLog()
            let result = try await withTransport { transport in
                try await runGateway(
                    running, directory: directory, keyPath: keyPath,
                    overrides: ["LGSP_CENTRAL_TIMEOUT": "2s", "LGSP_CENTRAL_MAX_CONCURRENT": "2"],
                    events: events
                ) { runtime in
                    if steps.get("readiness") == nil {
                        let timedOut = events.all.map(\.event).filter {
                            if case .retry(_, _, let error) = $0.completion { return error.contains("no complete answer within 2s") }
                            return false
                        }
                        // Five failures open the breaker: more than the two slots, so slots were freed and reused.
                        guard timedOut.count >= 5, let port = runtime.adminPort else { return false }
                        let answer = try await transport.send(
                            method: "GET", url: "http://127.0.0.1:\(port)/readyz", tls: EndpointTLS(), timeout: .seconds(5))
                        steps.set("readiness", "\(answer.status) " + String(decoding: answer.body, as: UTF8.self))
                        steps.set("longest", "\(timedOut.map(\.duration).max() ?? 0)")
                        running.central.setHostility(nil)
                        return false
                    }
                    return try await allPulledAndDelivered(runtime)
                }
            }
            let readiness = try #require(steps.get("readiness"))
            #expect(readiness.hasPrefix("503 ") && readiness.contains("circuit breaker open"), "\(readiness)")
            let longest = try #require(steps.get("longest").flatMap(Double.init))
            #expect(longest < 4, "an attempt against the trickling centre lasted \(longest) s, past its 2 s deadline")
            #expect(result.stats.undelivered == 0 && result.stats.deadLettered == 0)
        }
    }

    @Test("a source that trickles its body fails the pull at the adapter's timeout, and status shows why")
    func tricklingSource() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let folder = try shippedAdapters(["qlvb-documents"], in: directory)
            try MalformedAnswerTests.adapterFile(name: "nho-giot", kind: .trickle).write(
                to: folder.appendingPathComponent("nho-giot.yaml"), atomically: true, encoding: .utf8)
            _ = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": folder.path], timeout: .seconds(60)
            ) { runtime in
                let statuses = try await runtime.store.adapterStatuses()
                let trickling = statuses.first { $0.adapter == "nho-giot" }
                let documents = statuses.first { $0.adapter == "qlvb-documents" }
                return trickling?.lastError != nil && documents?.lastSuccess != nil
            }
            let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false)
            let status = try #require(try await store.adapterStatuses().first { $0.adapter == "nho-giot" })
            #expect(status.lastError?.contains("no complete answer within 1s") == true, "\(String(describing: status.lastError))")
            #expect(status.nextRun != nil)
        }
    }

    @Test(
        "receipts that do not verify make dead letters, counted in the store, the metrics and each report's state",
        arguments: CentralHostility.ForgedReceipt.allCases)
    func forgedReceipts(kind: CentralHostility.ForgedReceipt) async throws {
        try await withSignedMocks { running, directory, keyPath in
            running.central.setHostility(.forgedReceipt(kind))
            let folder = try shippedAdapters(["qlvb-documents"], in: directory)
            let metrics = Steps()
            let result = try await withTransport { transport in
                try await runGateway(running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": folder.path]) {
                    runtime in
                    let stats = try await runtime.store.outboxStats(now: Date())
                    guard try await runtime.store.adapterStatuses().first?.lastSuccess != nil, stats.undelivered == 0,
                        stats.deadLettered > 0,
                        let port = runtime.adminPort
                    else { return false }
                    let answer = try await transport.send(
                        method: "GET", url: "http://127.0.0.1:\(port)/metrics", tls: EndpointTLS(), timeout: .seconds(5))
                    metrics.set("text", String(decoding: answer.body, as: UTF8.self))
                    return true
                }
            }
            #expect(result.stats.delivered == 0)
            #expect(result.stats.unverifiedReceipts == result.stats.deadLettered)
            let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false)
            let letters = try await store.entries(state: .deadLettered, limit: 100)
            #expect(!letters.isEmpty)
            for letter in letters {
                #expect(letter.receiptVerified == false)
                #expect(letter.lastError?.contains("its receipt proves nothing") == true, "\(String(describing: letter.lastError))")
            }
            let expectedProblem =
                switch kind {
                case .untrustedKey: "does not verify with central.receipt_keys"
                case .unsigned: "is not a signed JWS"
                case .anotherReport: "acknowledges report"
                }
            #expect(letters.first?.lastError?.contains(expectedProblem) == true, "\(String(describing: letters.first?.lastError))")
            let text = try #require(metrics.get("text"))
            #expect(
                text.contains("lgsp_receipts_unverified_total \(letters.count)"),
                "\(text.split(separator: "\n").filter { $0.contains("receipt") })")
            #expect(text.contains("lgsp_outbox_unverified_receipts_reports \(letters.count)"))
        }
    }

    @Test("a next-page link back to a page already read, or a source that ignores the page parameter, ends the pull naming the loop")
    func pagingLoops() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            try await withTransport { transport in
                for (name, path, pagination, message) in [
                    (
                        "tro-lai", "/paged/self/dvc/chi-tieu", "{ kind: next_link, next: $.lienKet.tiepTheo }",
                        "page 2 is the same as page 1"
                    ),
                    (
                        "bo-qua-trang", "/paged/ignore/dvc/chi-tieu", "{ kind: page, page_param: trang, size_param: so_ban_ghi, size: 5 }",
                        "page 2 is the same as page 1"
                    ),
                ] {
                    let definition = try PaginationTests.definition(
                        name, path: path, pagination: pagination, in: directory, environment: environment)
                    let before = running.source.statistics.dataRequests
                    let error = await #expect(throws: PullError.self) {
                        try await HTTPAdapter(definition: definition, transport: transport).pull(
                            cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
                    }
                    #expect(
                        error?.description.contains("adapter \(name): the source's pagination loops: \(message)") == true,
                        "\(String(describing: error))")
                    // Page 3 may have been asked for while page 2 was read; never the 100 of max_pages.
                    #expect(running.source.statistics.dataRequests - before <= 3)
                }
            }
        }
    }

    @Test("pages that shift under a pull bring a record twice; it is reported once and counted")
    func shiftedPages() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let definition = try PaginationTests.definition(
                "xe-dich", path: "/paged/shifted/dvc/chi-tieu",
                pagination: "{ kind: offset, offset_param: offset, limit_param: limit, limit: 6 }",
                in: directory, environment: environment)
            let output = try await withTransport { transport in
                try await HTTPAdapter(definition: definition, transport: transport).pull(
                    cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            let ids = output.records.compactMap { record -> String? in
                if case .mapped(let value, _) = record { return value["source_record_id"]?.stringValue }
                return nil
            }
            #expect(ids.count > Set(ids).count, "the shifted pages served no record twice: the test proves nothing")
            let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"), version: nil)
            let (valid, _, _) = await PullRunner.check(output, contracts: contracts, province: "14")
            let validIDs = valid.compactMap(\.sourceRecordID)
            #expect(validIDs.count == Set(validIDs).count, "a record would be reported twice: \(validIDs)")
            #expect(Set(validIDs) == Set(ids).intersection(validIDs))
        }
    }

    @Test("a NUL or an escape in a record's id is quarantined, never signed")
    func controlCharacters() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let definition = try PaginationTests.definition(
                "ky-tu", path: "/hong/ky-tu-dieu-khien/dvc/chi-tieu", pagination: nil, in: directory, environment: environment)
            let output = try await withTransport { transport in
                try await HTTPAdapter(definition: definition, transport: transport).pull(
                    cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"), version: nil)
            let (valid, quarantined, _) = await PullRunner.check(output, contracts: contracts, province: "14")
            #expect(!valid.contains { $0.sourceRecordID?.contains("\u{0}") == true })
            let reasons = quarantined.flatMap(\.reasons).filter { $0.rule == "identifier.control-character" }
            #expect(reasons.count == 1)
            #expect(reasons.first?.pointer == "/source_record_id")
            #expect(reasons.first?.message.contains("U+0000") == true, "\(reasons)")
        }
    }

    @Test("an absurd duration or size in an adapter file dropped in before a reload is refused with its line; the gateway carries on")
    func absurdValuesRefusedOnReload() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let folder = try shippedAdapters(["qlvb-documents"], in: directory)
            let (runtime, group) = try reloadableGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": folder.path])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await runtime.run(group: group) }
                #expect(try await eventually { try await allPulledAndDelivered(runtime) })
                let broken = folder.appendingPathComponent("tuyet-doi.yaml")
                try MalformedAnswerTests.adapterFile(name: "tuyet-doi", kind: .slow)
                    .replacingOccurrences(of: "timeout: 1s", with: "timeout: 1e17s")
                    .replacingOccurrences(of: "schedule: { every: 1h }", with: "schedule: { every: 1h, retries: 1, retry_backoff: 1e300s }")
                    .write(to: broken, atomically: true, encoding: .utf8)
                guard case .refused(let issues) = await runtime.reload() else {
                    Issue.record("a file with absurd durations was accepted")
                    await group.triggerGracefulShutdown()
                    return
                }
                let descriptions = issues.issues.map(\.description)
                #expect(
                    descriptions.contains { $0.hasPrefix(broken.path + ":2: schedule.retry_backoff: expected a duration") },
                    "\(descriptions)")
                #expect(
                    descriptions.contains { $0.contains(broken.path + ":") && $0.contains("source.timeout: expected a duration") },
                    "\(descriptions)")
                #expect(runtime.adapters.map(\.name) == ["qlvb-documents"])
                let pullsBefore = try await runtime.store.pullTotals().pulls
                try FileManager.default.removeItem(at: broken)
                if case .refused(let issues) = await runtime.reload() { Issue.record("a sound configuration was refused: \(issues)") }
                #expect(try await eventually(timeout: .seconds(30)) { try await runtime.store.pullTotals().pulls > pullsBefore })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
