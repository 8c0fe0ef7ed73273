import Foundation
import Gateway
import GatewayDelivery
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing

@Suite("Several reports per request")
struct BatchingTests {
    static func leased(_ id: String, body: Data, contentType: String = "application/jose+json", detached: String? = nil) -> LeasedReport {
        LeasedReport(
            reportID: id, attempt: 1, body: body, contentType: contentType, detachedSignature: detached,
            contentDigest: ContentDigest.sha256(body), observationCount: 1, createdAt: Date(timeIntervalSince1970: 0))
    }

    @Test("requests are bounded by count and by bytes; a report over the byte limit travels alone; order is kept")
    func splitting() {
        let small = (0..<7).map { Self.leased("r\($0)", body: Data(repeating: UInt8(ascii: "a"), count: 100)) }
        #expect(
            ReportBatch.split(small, maxReports: 3, maxBytes: 1 << 20).map { $0.map(\.reportID) } == [
                ["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"],
            ])
        // 100-byte bodies cost 103 bytes each in the array, plus the envelope: three fit in 330, four do not.
        #expect(ReportBatch.split(small, maxReports: 100, maxBytes: 330).map(\.count) == [3, 3, 1])
        let big = Self.leased("big", body: Data(repeating: UInt8(ascii: "b"), count: 5000))
        #expect(
            ReportBatch.split([small[0], big, small[1]], maxReports: 100, maxBytes: 1000).map { $0.map(\.reportID) } == [
                ["r0"], ["big"], ["r1"],
            ])
    }

    @Test("a batch body carries each report's own JWS: flattened as is, compact as a string, detached re-attached; all verify")
    func batchBody() throws {
        let key = SigningKey.generate()
        let signer = JWSSigner(key: key, type: "lgsp-report+jws")
        let verifier = JWSVerifier(keys: [key.publicKey])
        let payloads = (0..<3).map { Data(#"{"report_id":"r\#($0)"}"#.utf8) }
        let flattened = try signer.sign(payload: payloads[0]).message(.flattened)
        let compact = try signer.sign(payload: payloads[1]).message(.compact)
        let detached = try signer.sign(payload: payloads[2]).message(.detached)
        let reports = [
            Self.leased("r0", body: flattened.body),
            Self.leased("r1", body: compact.body, contentType: "application/jose"),
            Self.leased("r2", body: payloads[2], contentType: "application/json", detached: detached.detachedSignature),
        ]
        let request = ReportBatch.request(reports)
        #expect(request.path == "/v1/reports/batch")
        let digest = try #require(request.headers.first { $0.0 == "Content-Digest" }?.1)
        #expect(ContentDigest.verify(header: digest, body: request.body))
        let object = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        let items = try #require(object["reports"] as? [Any])
        #expect(items.count == 3)
        for (index, item) in items.enumerated() {
            let jws =
                if let text = item as? String {
                    try FlattenedJWS.parse(compact: text)
                } else {
                    try FlattenedJWS.decode(try JSONSerialization.data(withJSONObject: item))
                }
            #expect(try verifier.verify(jws).payload == payloads[index])
        }
        // The same reports make the same batch key; other reports another.
        let key1 = request.headers.first { $0.0 == "Idempotency-Key" }?.1
        #expect(key1 == ReportBatch.request(reports).headers.first { $0.0 == "Idempotency-Key" }?.1)
        #expect(key1 != ReportBatch.request(Array(reports.prefix(2))).headers.first { $0.0 == "Idempotency-Key" }?.1)
    }

    @Test("each report's result decides its fate: accepted, already held, refused with the centre's words, or not mentioned and retried")
    func perReportOutcomes() throws {
        let reports = ["a", "b", "c", "d", "e"].map { Self.leased($0, body: Data("x".utf8)) }
        let answer = Data(
            #"""
            {"results":[
              {"report_id":"a","status":202,"receipt":"receipt-a"},
              {"report_id":"b","status":200,"receipt":"receipt-b"},
              {"report_id":"c","status":422,"detail":"unknown indicator"},
              {"report_id":"e","status":503}
            ]}
            """#.utf8)
        let outcomes = ReportBatch.outcomes(of: reports, answer: answer, now: Date())
        #expect(outcomes.map(\.report.reportID) == ["a", "b", "c", "d", "e"])
        #expect(outcomes[0].verdict == .delivered(receipt: "receipt-a"))
        #expect(outcomes[1].verdict == .delivered(receipt: "receipt-b"))
        #expect(outcomes[2].verdict == .reject(reason: "central endpoint rejected the report (422): unknown indicator"))
        guard case .retry = outcomes[3].verdict, case .retry = outcomes[4].verdict else {
            Issue.record("a report without a result, or with a 503, must be retried: \(outcomes)")
            return
        }
        #expect(outcomes[3].status == nil && outcomes[4].status == 503)
        // An answer that cannot be read retries everything rather than guessing.
        #expect(
            ReportBatch.outcomes(of: reports, answer: Data("<html>".utf8), now: Date()).allSatisfy {
                if case .retry = $0.verdict { true } else { false }
            })
    }
}

@Suite("Batched delivery end to end", .serialized)
struct BatchedDeliveryTests {
    @Test(
        "batches of up to 4 reports through a centre failing half the time: every observation once, receipts verified",
        arguments: ["flattened", "compact", "detached"])
    func batchedThroughFaults(serialization: String) async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let dataset = MockDataset(province: "14")
        let faults = MockCentral.FaultPlan(failureRate: 0.5, slowAnswerDelay: .milliseconds(1500), seed: 11)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID().uuidString)", dataset: dataset),
            trustedKeys: [key.publicKey], faults: faults)
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: [
                    "LGSP_CENTRAL_BATCH_MAX_REPORTS": "4", "LGSP_REPORT_MAX_OBSERVATIONS": "3", "LGSP_SIGNING_SERIALIZATION": serialization,
                    "LGSP_CENTRAL_TIMEOUT": "500ms", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "300ms",
                ],
                until: allPulledAndDelivered)
            let central = running.central.statistics
            #expect(result.stats.deliveredObservations == dataset.goodRecordCount)
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
            #expect(central.signatureFailures == 0)
            #expect(central.batchRequests == central.requests, "every request went to /v1/reports/batch")
            #expect((2...4).contains(central.maxReportsPerRequest), "\(central.maxReportsPerRequest)")
            #expect(result.receiptsVerified.allSatisfy { $0 == true })
            // One audit link per delivered report, though several were recorded in one transaction.
            let links = try await SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path).auditLinks()
            #expect(links.count == result.stats.delivered)
            #expect(AuditChainCheck.firstProblem(in: links) == nil)
        }
    }

    @Test("without faults, batching cuts requests to about one per four reports")
    func fewerRequests() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let dataset = MockDataset(province: "14")
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID().uuidString)", dataset: dataset),
            trustedKeys: [key.publicKey])
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: ["LGSP_CENTRAL_BATCH_MAX_REPORTS": "4", "LGSP_REPORT_MAX_OBSERVATIONS": "3"], until: allPulledAndDelivered)
            let central = running.central.statistics
            #expect(central.acceptedReports == result.stats.delivered)
            // Each pull's reports are leased together; each adapter's last batch may be partial.
            #expect(
                central.requests <= (result.stats.delivered + 3) / 4 + 2,
                "\(central.requests) requests for \(result.stats.delivered) reports")
            #expect(central.acceptedObservations == dataset.goodRecordCount)
        }
    }
}
