import Foundation
import GatewayContracts
import GatewaySigning
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import NIOPosix
import Synchronization
import GatewayJSON

/// Failures the mock central endpoint can inject, one per request.
public enum CentralFault: Sendable, Equatable, CaseIterable {
    /// 503 Service Unavailable.
    case unavailable
    /// 429 Too Many Requests with `Retry-After: 1`.
    case tooManyRequests
    /// The connection is dropped mid-request, with no answer.
    case connectionReset
    /// The report is accepted, but the answer comes only after `slowAnswerDelay`, later than the
    /// gateway waits: the gateway must send it again and be told the centre already has it.
    case slowAnswer
}

/// How a hostile centre answers every report while it is set: what the gateway must survive.
public enum CentralHostility: Sendable, Equatable {
    /// 503 with this `Retry-After`, however absurd.
    case retryAfter(String)
    /// 201 at once, then the body one byte every `interval`, for about two minutes.
    case trickle(interval: Duration)
    /// The report is accepted and kept, but the receipt answered proves nothing.
    case forgedReceipt(ForgedReceipt)

    public enum ForgedReceipt: String, Sendable, CaseIterable {
        /// Signed by a key the gateway does not trust, under the trusted key's `kid`.
        case untrustedKey = "untrusted-key"
        /// The receipt's JSON with no signature at all.
        case unsigned
        /// A genuine signed receipt, for another report.
        case anotherReport = "another-report"
    }
}

/// The central reporting endpoint, implementing the wire contract: verifies each JWS and
/// Content-Digest, deduplicates by Idempotency-Key, issues receipts, counts, injects failures.
public final class MockCentral: Sendable {
    public struct FaultPlan: Sendable {
        /// Faults for the first requests, in order, before random ones.
        public var scripted: [CentralFault]
        /// Share of the remaining requests that fail, 0 to 1.
        public var failureRate: Double
        /// Which faults random failures draw from.
        public var kinds: [CentralFault]
        public var slowAnswerDelay: Duration
        public var seed: UInt64

        public init(
            scripted: [CentralFault] = [], failureRate: Double = 0, kinds: [CentralFault] = CentralFault.allCases,
            slowAnswerDelay: Duration = .seconds(3), seed: UInt64 = 2025
        ) {
            self.scripted = scripted
            self.failureRate = failureRate
            self.kinds = kinds
            self.slowAnswerDelay = slowAnswerDelay
            self.seed = seed
        }

        public static let none = FaultPlan()
    }

    public struct Statistics: Sendable, Equatable, Codable {
        public var requests = 0
        public var acceptedReports = 0
        public var acceptedObservations = 0
        /// Requests for a report already held (answered 200 with the first receipt).
        public var idempotentReplays = 0
        /// Observations accepted more than once with the same fact, revision and value: must stay 0.
        public var duplicateObservations = 0
        /// Observations that became their figure's current value as a revision after the first.
        public var revisions = 0
        /// Revisions that arrived after a higher one of their figure: kept as history, changing nothing.
        public var staleRevisions = 0
        public var signatureFailures = 0
        /// Requests to `/v1/reports/batch`, and the most reports one of them carried.
        public var batchRequests = 0
        public var maxReportsPerRequest = 0
        public var digestFailures = 0
        /// Requests whose RFC 9421 signature was present and verified, and present but wrong.
        public var httpSignaturesVerified = 0
        public var httpSignatureFailures = 0
        /// Reports received per serialization (flattened, compact, detached).
        public var serializations: [String: Int] = [:]
        public var rejected = 0
        /// The most report requests the centre was handling at one time.
        public var maxConcurrentRequests = 0
        public var faultsInjected: [String: Int] = [:]
    }

    private struct State {
        var plan: FaultPlan
        var random: SplitMix64
        var receipts: [String: String] = [:]
        /// Answer at once without verifying or keeping anything: a receiver as cheap as can be,
        /// for measuring the gateway's own delivery ceiling.
        var minimal = false
        /// Each accepted fact's hash (its indicator, level, area, period and value): a set of
        /// whole facts cost a copy of four strings per observation under the lock. Two different
        /// facts share a 64-bit hash once in about 10^19 pairs.
        var factHashes: Set<Int> = []
        /// Each accepted report's observations: appending them one by one to a single array
        /// copied every observation under the lock.
        var observations: [[Observation]] = []
        /// The centre's view of each figure.
        var figures = FigureTable<HeldFigure>()
        var acceptedBodies: [AcceptedBody] = []
        var concurrentRequests = 0
        var statistics = Statistics()
        var hostility: CentralHostility?
    }

    /// What the centre holds of one figure: the highest revision received stands; every revision
    /// received is history, in order of arrival.
    public struct CentralFigure: Sendable, Equatable {
        public var key: FigureKey
        public var revision: Int
        public var value: FigureValue
        public var reportID: String
        public var history: [Arrival]

        public struct Arrival: Sendable, Equatable {
            public var revision: Int
            public var value: FigureValue
        }
    }

    /// One figure as kept under the lock: what stands, and every arrival once there is more than
    /// one. A figure that arrived once is its own history, so most figures allocate nothing and
    /// take 80 bytes: at a hundred thousand figures, growing a table of larger ones was most of
    /// what the centre cost.
    struct HeldFigure: Sendable {
        var revision: Int
        var value: FigureValue
        var reportID: String
        var arrivals: [CentralFigure.Arrival] = []
    }

    /// One observation's figure, read outside the lock.
    struct ArrivingFigure: Sendable {
        let key: FigureKey
        let revision: Int?
        let value: FigureValue
    }

    /// Keeps `arriving` as contract 1.2 says: a higher revision replaces, a lower or equal one is
    /// history; an observation without a revision (1.1) replaces whatever is there.
    private static func keep(_ arriving: ArrivingFigure, reportID: String, in state: inout State) {
        guard let position = state.figures.position(of: arriving.key) else {
            let revision = arriving.revision ?? 1
            state.figures.append(HeldFigure(revision: revision, value: arriving.value, reportID: reportID), for: arriving.key)
            if revision > 1 { state.statistics.revisions += 1 }
            return
        }
        let held = state.figures[position: position].revision
        let revision = arriving.revision ?? held + 1
        if state.figures[position: position].arrivals.isEmpty {
            state.figures[position: position].arrivals.append(.init(revision: held, value: state.figures[position: position].value))
        }
        state.figures[position: position].arrivals.append(.init(revision: revision, value: arriving.value))
        if revision > held {
            state.figures[position: position].revision = revision
            state.figures[position: position].value = arriving.value
            state.figures[position: position].reportID = reportID
            state.statistics.revisions += 1
        } else if revision < held {
            state.statistics.staleRevisions += 1
        }
    }

    /// The figure as the centre holds it now.
    public func figure(_ key: FigureKey) -> CentralFigure? {
        guard let held = state.withLock({ $0.figures[key] }) else { return nil }
        return CentralFigure(
            key: key, revision: held.revision, value: held.value, reportID: held.reportID,
            history: held.arrivals.isEmpty ? [.init(revision: held.revision, value: held.value)] : held.arrivals)
    }

    /// One figure as the centre dedupes it, by the hash of the same fact with the same value
    /// (the value compared as a number rather than as text), made while the report is examined
    /// outside the lock.
    private static func factHash(_ figure: ArrivingFigure) -> Int {
        var hasher = Hasher()
        hasher.combine(figure.key.indicator)
        hasher.combine(figure.key.level)
        hasher.combine(figure.key.area)
        hasher.combine(figure.key.period)
        hasher.combine(figure.value.value)
        hasher.combine(figure.revision)
        return hasher.finalize()
    }

    private let verifier: JWSVerifier
    private let state: Mutex<State>
    /// The centre's own key: receipts are signed with it, so a gateway can prove what was acknowledged.
    public let receiptKey = SigningKey.generate()

    public init(trustedKeys: [VerificationKey], faults: FaultPlan = .none) {
        verifier = JWSVerifier(keys: trustedKeys)
        state = Mutex(State(plan: faults, random: SplitMix64(seed: faults.seed)))
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }
    /// Every observation accepted, in order of arrival.
    public var acceptedObservations: [Observation] { state.withLock { $0.observations }.flatMap { $0 } }
    /// The request bodies (flattened JWS) of every report accepted, as they arrived.
    public var acceptedBodies: [Data] { state.withLock { $0.acceptedBodies }.map(\.bytes) }

    /// A report as it arrived, written out as bytes only when asked for: writing out every
    /// report of a batch as it arrived copied each one.
    enum AcceptedBody: Sendable {
        case bytes(Data)
        case flattened(FlattenedJWS)
        case compact(String)

        var bytes: Data {
            switch self {
            case .bytes(let data): data
            case .flattened(let jws): (try? jws.encoded()) ?? Data()
            case .compact(let text): Data(text.utf8)
            }
        }
    }

    /// Answers every report as `hostility` says, until set back to nil.
    public func setHostility(_ hostility: CentralHostility?) { state.withLock { $0.hostility = hostility } }

    /// Switches to answering every report 202 at once, verifying and keeping nothing (for benchmarks).
    public func setMinimal(_ minimal: Bool) { state.withLock { $0.minimal = minimal } }

    public func setFaults(_ plan: FaultPlan) {
        state.withLock {
            $0.plan = plan
            $0.random = SplitMix64(seed: plan.seed)
        }
    }

    /// Draws the fault for the next report request, if any.
    func drawFault() -> CentralFault? {
        state.withLock { state in
            let fault: CentralFault?
            if !state.plan.scripted.isEmpty {
                fault = state.plan.scripted.removeFirst()
            } else if state.plan.failureRate > 0, !state.plan.kinds.isEmpty, state.random.nextUnit() < state.plan.failureRate {
                fault = state.plan.kinds[Int(state.random.next() % UInt64(state.plan.kinds.count))]
            } else {
                fault = nil
            }
            if let fault { state.statistics.faultsInjected["\(fault)", default: 0] += 1 }
            return fault
        }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("v1/reports") { request, _ in try await self.receive(request) }
        router.post("v1/reports/batch") { request, _ in try await self.receiveBatch(request) }
        router.get("v1/health") { _, _ in Response(status: .ok) }
    }

    static let faultHeader = HTTPField.Name("x-mock-fault")!

    /// Counts the request and the requests under way, and plays the faults that answer at once;
    /// otherwise hands over to `handle` with the fault drawn, if any.
    private func counted(
        _ request: Request, batch: Bool, _ handle: (_ fault: String?) async throws -> Response
    ) async throws -> Response {
        state.withLock {
            $0.statistics.requests += 1
            if batch { $0.statistics.batchRequests += 1 }
            $0.concurrentRequests += 1
            $0.statistics.maxConcurrentRequests = max($0.statistics.maxConcurrentRequests, $0.concurrentRequests)
        }
        defer { state.withLock { $0.concurrentRequests -= 1 } }
        let fault = request.headers[Self.faultHeader]
        switch fault {
        case "unavailable": return Self.problem(.serviceUnavailable, "Service temporarily unavailable")
        case "tooManyRequests":
            var response = Self.problem(.tooManyRequests, "Too many requests")
            response.headers[.retryAfter] = "1"
            return response
        default: return try await handle(fault)
        }
    }

    private func receive(_ request: Request) async throws -> Response {
        try await counted(request, batch: false) { fault in
            switch state.withLock({ $0.hostility }) {
            case nil:
                return try await receiveReport(request, fault: fault)
            case .retryAfter(let value)?:
                var response = Self.problem(.serviceUnavailable, "Service temporarily unavailable")
                response.headers[.retryAfter] = value
                return response
            case .trickle(let interval)?:
                return Response(
                    status: .created, headers: [.contentType: "application/json"],
                    body: ResponseBody { writer in
                        try await writer.write(ByteBuffer(string: "{"))
                        for _ in 0..<120 {
                            try await Task.sleep(for: interval)
                            try await writer.write(ByteBuffer(string: " "))
                        }
                        try await writer.write(ByteBuffer(string: "}"))
                        try await writer.finish(nil)
                    })
            case .forgedReceipt(let kind)?:
                var response = try await receiveReport(request, fault: fault)
                guard response.status == .accepted || response.status == .ok else { return response }
                let reportID = request.headers[HTTPField.Name("Idempotency-Key")!] ?? ""
                response.body = .init(byteBuffer: ByteBuffer(string: forged(kind, for: reportID)))
                return response
            }
        }
    }

    /// A receipt of `kind` for `reportID` that a gateway checking receipts must not accept.
    private func forged(_ kind: CentralHostility.ForgedReceipt, for reportID: String) -> String {
        let payload =
            #"{"observations":1,"receipt_id":"\#(UUID().uuidString.lowercased())","received_at":"\#(Timestamps.format(Date()))","report_id":"\#(reportID)","status":"accepted"}"#
        let genuine = JWSSigner(key: receiptKey, type: "lgsp-receipt+jws")
        switch kind {
        case .unsigned:
            return payload
        case .untrustedKey:
            let impostor = JWSSigner(key: SigningKey.generate(), keyID: genuine.keyID, type: "lgsp-receipt+jws")
            return (try? impostor.sign(payload: Data(payload.utf8)).encoded()).map { String(decoding: $0, as: UTF8.self) } ?? payload
        case .anotherReport:
            let other = payload.replacingOccurrences(of: reportID, with: UUID().uuidString.lowercased())
            return (try? genuine.sign(payload: Data(other.utf8)).encoded()).map { String(decoding: $0, as: UTF8.self) } ?? payload
        }
    }

    private func receiveReport(_ request: Request, fault: String?) async throws -> Response {
        let body = Data(buffer: try await request.body.collect(upTo: 64 << 20))
        if state.withLock({ $0.minimal }) { return Self.jsonText(.accepted, "{}") }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let serialization: JWSSerialization
        if contentType.hasPrefix("application/jose+json") {
            serialization = .flattened
        } else if contentType.hasPrefix("application/jose") {
            serialization = .compact
        } else if contentType.hasPrefix("application/json"), request.headers[HTTPField.Name(JWSSerialization.detachedHeader)!] != nil {
            serialization = .detached
        } else {
            return reject(
                .unsupportedMediaType,
                "Content-Type must be application/jose+json, application/jose, or application/json with a JWS-Signature header")
        }
        if let failure = verifyMessageSignature(request) { return failure }
        guard let digest = request.headers[HTTPField.Name("Content-Digest")!], ContentDigest.verify(header: digest, body: body) else {
            state.withLock { $0.statistics.digestFailures += 1 }
            return reject(.badRequest, "Content-Digest is missing or does not match the body")
        }
        guard let key = request.headers[HTTPField.Name("Idempotency-Key")!], !key.isEmpty else {
            return reject(.badRequest, "Idempotency-Key is required")
        }
        if let receipt = state.withLock({ state -> String? in
            guard let receipt = state.receipts[key] else { return nil }
            state.statistics.idempotentReplays += 1
            return receipt
        }) {
            return Self.jsonText(.ok, receipt)
        }
        let jws: FlattenedJWS
        do {
            jws =
                switch serialization {
                case .flattened: try FlattenedJWS.decode(body)
                case .compact: try FlattenedJWS.parse(compact: String(decoding: body, as: UTF8.self))
                case .detached:
                    try FlattenedJWS.parse(detached: request.headers[HTTPField.Name(JWSSerialization.detachedHeader)!] ?? "", payload: body)
                }
        } catch {
            state.withLock { $0.statistics.signatureFailures += 1 }
            return reject(.badRequest, "signature rejected: \(error.message)")
        }
        let (status, text, _) = accept(jws, body: body, serialization: serialization, idempotencyKey: key)
        guard status == .accepted || status == .ok else { return reject(status, text) }
        if fault == "slowAnswer" {
            try await Task.sleep(for: state.withLock { $0.plan.slowAnswerDelay })
        }
        return Self.jsonText(status, text)
    }

    /// Checks an RFC 9421 signature when the request carries one; the refusal to send otherwise.
    private func verifyMessageSignature(_ request: Request) -> Response? {
        guard request.headers[HTTPField.Name("Signature-Input")!] != nil else { return nil }
        let httpRequest = HTTPMessageSignatures.Request(
            method: request.method.rawValue, url: "https://\(request.head.authority ?? "")\(request.uri.string)",
            headers: request.headers.map { ($0.name.rawName, $0.value) })
        do {
            try HTTPMessageSignatures.verify(httpRequest, keys: verifier.trusted, now: Date())
            state.withLock { $0.statistics.httpSignaturesVerified += 1 }
            return nil
        } catch {
            state.withLock { $0.statistics.httpSignatureFailures += 1 }
            return reject(.unauthorized, "HTTP message signature rejected: \(error.message)")
        }
    }

    /// Verifies one report and keeps it once: (202 or 200, receipt) or (error status, detail).
    /// `idempotencyKey`, when given, must be the report's id.
    private func accept(
        _ jws: FlattenedJWS, body: Data, serialization: JWSSerialization, idempotencyKey: String?
    ) -> (status: HTTPResponse.Status, text: String, reportID: String?) {
        keep(examine(jws, idempotencyKey: idempotencyKey), body: .bytes(body), serialization: serialization)
    }

    /// A report verified and read, its receipt signed; or the answer it gets without being kept.
    private enum Examined: Sendable {
        case answered(status: HTTPResponse.Status, text: String, reportID: String?)
        case fresh(envelope: ReportEnvelope, facts: [Int], figures: [ArrivingFigure], receipt: String)
    }

    /// Everything about a report that needs no lock: several are examined at once.
    private func examine(_ jws: FlattenedJWS, idempotencyKey: String?) -> Examined {
        let verified: JWSVerifier.Verified
        do { verified = try verifier.verify(jws) } catch {
            state.withLock { $0.statistics.signatureFailures += 1 }
            return .answered(status: .badRequest, text: "signature rejected: \(error.message)", reportID: nil)
        }
        let envelope: ReportEnvelope
        do { envelope = try ReportEnvelope(json: try JSONValue.parse(verified.payload)) } catch {
            return .answered(status: .unprocessableContent, text: "the payload is not a report envelope: \(error)", reportID: nil)
        }
        if let idempotencyKey, envelope.reportID != idempotencyKey {
            return .answered(
                status: .unprocessableContent, text: "report_id \(envelope.reportID) differs from Idempotency-Key \(idempotencyKey)",
                reportID: envelope.reportID)
        }
        let key = envelope.reportID
        if let existing = state.withLock({ Self.replay(key, in: &$0) }) { return .answered(status: .ok, text: existing, reportID: key) }
        let receiptID = UUID().uuidString.lowercased()
        let receiptPayload =
            #"{"observations":\#(envelope.observations.count),"receipt_id":"\#(receiptID)","received_at":"\#(Timestamps.format(Date()))","report_id":"\#(key)","status":"accepted"}"#
        let signed = try? JWSSigner(key: receiptKey, type: "lgsp-receipt+jws").sign(payload: Data(receiptPayload.utf8)).encoded()
        let receipt = signed.map { String(decoding: $0, as: UTF8.self) } ?? receiptPayload
        let figures = Observation.mapFigures(envelope.observations[...]) { key, revision, value in
            ArrivingFigure(key: key, revision: revision, value: value)
        }
        return .fresh(envelope: envelope, facts: figures.map(Self.factHash), figures: figures, receipt: receipt)
    }

    /// The receipt already given for `reportID`, counting the replay.
    private static func replay(_ reportID: String, in state: inout State) -> String? {
        guard let existing = state.receipts[reportID] else { return nil }
        state.statistics.idempotentReplays += 1
        return existing
    }

    /// Keeps an examined report under the lock, briefly: the same report may have arrived on
    /// another connection since it was examined.
    private func keep(_ examined: Examined, body: AcceptedBody, serialization: JWSSerialization) -> (
        status: HTTPResponse.Status, text: String, reportID: String?
    ) {
        switch examined {
        case .answered(let status, let text, let reportID):
            return (status, text, reportID)
        case .fresh(let envelope, let facts, let figures, let receipt):
            let key = envelope.reportID
            return state.withLock { state -> (status: HTTPResponse.Status, text: String, reportID: String?) in
                if let existing = Self.replay(key, in: &state) { return (.ok, existing, key) }
                state.receipts[key] = receipt
                state.acceptedBodies.append(body)
                state.statistics.serializations[serialization.rawValue, default: 0] += 1
                state.statistics.acceptedReports += 1
                state.statistics.acceptedObservations += envelope.observations.count
                for fact in facts where !state.factHashes.insert(fact).inserted {
                    state.statistics.duplicateObservations += 1
                }
                state.observations.append(envelope.observations)
                for figure in figures { Self.keep(figure, reportID: key, in: &state) }
                return (.accepted, receipt, key)
            }
        }
    }

    /// `{"reports": [JWS, ...]}`: each report verified and kept on its own, each answered in
    /// `{"results": [{"report_id", "status", "receipt" | "detail"}]}`.
    private func receiveBatch(_ request: Request) async throws -> Response {
        try await counted(request, batch: true) { fault in try await receiveReports(request, fault: fault) }
    }

    private func receiveReports(_ request: Request, fault: String?) async throws -> Response {
        let body = Data(buffer: try await request.body.collect(upTo: 256 << 20))
        if state.withLock({ $0.minimal }) { return Self.minimalBatchAnswer(body) }
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            return reject(.unsupportedMediaType, "Content-Type must be application/json")
        }
        if let failure = verifyMessageSignature(request) { return failure }
        guard let digest = request.headers[HTTPField.Name("Content-Digest")!], ContentDigest.verify(header: digest, body: body) else {
            state.withLock { $0.statistics.digestFailures += 1 }
            return reject(.badRequest, "Content-Digest is missing or does not match the body")
        }
        guard case .array(let reports)? = (try? JSONValue.parse(body))?["reports"] else {
            return reject(.badRequest, #"the body must be {"reports": [JWS, ...]}"#)
        }
        state.withLock { $0.statistics.maxReportsPerRequest = max($0.statistics.maxReportsPerRequest, reports.count) }
        // Each item read as a JWS, or its answer when it is not one.
        let items: [Result<(jws: FlattenedJWS, serialization: JWSSerialization, body: AcceptedBody), any Error>] = reports.map { item in
            Result {
                switch item {
                case .string(let compact):
                    return (try FlattenedJWS.parse(compact: compact), .compact, .compact(compact))
                case .object(let members):
                    guard case .string(let protected)? = members["protected"], case .string(let payload)? = members["payload"],
                        case .string(let signature)? = members["signature"]
                    else {
                        throw JWSError("the body is not a flattened JWS JSON object with protected, payload and signature")
                    }
                    let jws = FlattenedJWS(protected: protected, payload: payload, signature: signature)
                    return (jws, .flattened, .flattened(jws))
                default:
                    throw JWSError("a report must be a JWS: a compact string or a flattened object")
                }
            }
        }
        // Verified and read on every core, as a centre serving many provinces would; kept in the
        // batch's order, so what the centre holds does not depend on which finished first.
        let examined = await examineAll(items.map { try? $0.get().jws })
        var results: [JSONValue] = []
        for (item, examined) in zip(items, examined) {
            let jws: FlattenedJWS
            let serialization: JWSSerialization
            let itemBody: AcceptedBody
            switch item {
            case .success(let parsed): (jws, serialization, itemBody) = parsed
            case .failure(let error):
                state.withLock { $0.statistics.signatureFailures += 1 }
                results.append(.object(["status": .number(400), "detail": .string("not a JWS: \(error)")]))
                continue
            }
            guard let examined else { continue }
            let (status, text, verifiedID) = keep(examined, body: itemBody, serialization: serialization)
            // A refused report is still named (from its unverified payload) so the gateway can tell which one.
            let id =
                verifiedID
                ?? Base64URL.decode(jws.payload).flatMap { try? JSONValue.parse($0) }.flatMap { payload -> String? in
                    if case .object(let members) = payload, case .string(let id)? = members["report_id"] { id } else { nil }
                }
            var result: JSONObject = ["status": .number(Double(status.code))]
            if let id { result["report_id"] = .string(id) }
            result[status == .accepted || status == .ok ? "receipt" : "detail"] = .string(text)
            results.append(.object(result))
        }
        if fault == "slowAnswer" {
            try await Task.sleep(for: state.withLock { $0.plan.slowAnswerDelay })
        }
        let answer = (try? JSONValue.object(["results": .array(results)]).canonicalData()) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: answer)))
    }

    /// `examine` of each JWS (nil stays nil), in their order, spread over the machine's cores.
    private func examineAll(_ reports: [FlattenedJWS?]) async -> [Examined?] {
        let workers = min(reports.count, max(1, ProcessInfo.processInfo.activeProcessorCount))
        guard workers > 1 else { return reports.map { $0.map { examine($0, idempotencyKey: nil) } } }
        return await withTaskGroup(of: [(Int, Examined?)].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    stride(from: worker, to: reports.count, by: workers).map { index in
                        (index, reports[index].map { self.examine($0, idempotencyKey: nil) })
                    }
                }
            }
            var examined = [Examined?](repeating: nil, count: reports.count)
            for await part in group { for (index, result) in part { examined[index] = result } }
            return examined
        }
    }

    /// 202 for every report of a batch, found by its `report_id` in the payload without parsing
    /// the report or checking anything.
    static func minimalBatchAnswer(_ body: Data) -> Response {
        let marker = Array(#""report_id":""#.utf8)
        var results: [String] = []
        if case .array(let reports)? = (try? JSONValue.parse(body))?["reports"] {
            for item in reports {
                let payload =
                    item["payload"]?.stringValue
                    ?? item.stringValue.map { String($0.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first ?? "") }
                guard let decoded = payload.flatMap(Base64URL.decode) else { continue }
                let bytes = [UInt8](decoded)
                guard let start = bytes.indices.first(where: { bytes[$0...].starts(with: marker) }) else { continue }
                let idStart = start + marker.count
                let idEnd = bytes[idStart...].firstIndex(of: UInt8(ascii: "\"")) ?? bytes.endIndex
                results.append(#"{"report_id":"\#(String(decoding: bytes[idStart..<idEnd], as: UTF8.self))","status":202}"#)
            }
        }
        return jsonText(.ok, #"{"results":["# + results.joined(separator: ",") + "]}")
    }

    private func reject(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        state.withLock { $0.statistics.rejected += 1 }
        return Self.problem(status, detail)
    }

    static func problem(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        let body =
            (try? JSONValue.object([
                "type": .string("about:blank"), "title": .string(status.reasonPhrase), "status": .number(Double(status.code)),
                "detail": .string(detail),
            ]).canonicalData()) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func jsonText(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Sits after HTTP decoding and draws a fault for each report request: resets the connection
/// itself, or tells the route which fault to play through a request header.
final class FaultInjectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let central: MockCentral
    var resetting = false

    init(central: MockCentral) { self.central = central }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if resetting { return }
        var part = unwrapInboundIn(data)
        if case .head(var head) = part, head.method == .post, head.path?.hasPrefix("/v1/reports") == true {
            switch central.drawFault() {
            case .connectionReset?:
                resetting = true
                // Drop the connection mid-request without an answer. The kernel sends RST when request
                // bytes are still unread, FIN otherwise; either way the client sees the connection die.
                context.close(promise: nil)
                return
            case let fault?:
                head.headerFields[MockCentral.faultHeader] = "\(fault)"
                part = .head(head)
            case nil:
                break
            }
        }
        context.fireChannelRead(wrapInboundOut(part))
    }
}

/// A small deterministic generator, so a fault plan replays the same way every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
