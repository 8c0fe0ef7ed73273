import Foundation
import GatewayContracts
import GatewaySigning
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import GatewayJSON

/// A provincial LGSP service as WSO2 API Manager fronts it: `POST /token` issues bearer tokens
/// for client credentials given as HTTP basic auth; the data APIs refuse any request without a
/// live token, the way the gateway answers (`900901 Invalid Credentials`).
public final class MockProvincialSource: Sendable {
    public struct Configuration: Sendable {
        public var clientID: String
        public var clientSecret: String
        public var tokenLifetime: Int
        public var dataset: MockDataset
        /// At most this many records per answer, oldest first after the cursor, as sources that cap
        /// their answers do; the next pull continues from the cursor. `nil` answers everything.
        public var maxRecordsPerAnswer: Int?

        public init(
            clientID: String, clientSecret: String, tokenLifetime: Int = 3600, dataset: MockDataset = MockDataset(),
            maxRecordsPerAnswer: Int? = nil
        ) {
            self.maxRecordsPerAnswer = maxRecordsPerAnswer
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.tokenLifetime = tokenLifetime
            self.dataset = dataset
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var tokensIssued = 0
        public var tokenRequestsRefused = 0
        public var tokenRequestsWithDigest = 0
        public var dataRequests = 0
        public var unauthorizedRequests = 0
        public var recordsServed = 0
    }

    private struct State {
        var tokens: [String: Date] = [:]
        var revoked: [String] = []
        var statistics = Statistics()
    }

    public let configuration: Configuration
    /// The education department's own system, served beside the LGSP's services.
    public let education: MockEducationSystem
    private let state = Mutex(State())
    /// Each dataset's records as a source's database holds them, ready to serve: sorted and
    /// written as JSON once, when the mock starts. The dataset never changes, and sorting and
    /// writing a long history again for every page made the mock, not the gateway, a large share
    /// of a paged pull's CPU in the benchmark, where both share the same two cores.
    private let telecom, documents, bank: ServedRecords
    /// The portal's records, which a test or the demo may correct while the mock runs.
    private let servedPortal: Mutex<(records: [MockDataset.SourceRecord], served: ServedRecords)>
    private var portal: ServedRecords { servedPortal.withLock { $0.served } }

    public init(configuration: Configuration) {
        self.configuration = configuration
        let dataset = configuration.dataset
        education = MockEducationSystem(password: configuration.clientSecret, dataset: dataset)
        servedPortal = Mutex((dataset.portalRecords, ServedRecords(dataset.portalRecords, updatedField: "capNhatLuc")))
        telecom = ServedRecords(dataset.telecomRecords, updatedField: "capNhat")
        documents = ServedRecords(dataset.documentRecords, updatedField: "capNhat")
        bank = ServedRecords(dataset.bankRecords, updatedField: "ngayCapNhat")
    }

    /// Records oldest first by `updatedField`, each with its canonical JSON.
    struct ServedRecords: Sendable {
        let updated: [Date]
        let encoded: [Data]

        init(_ records: [MockDataset.SourceRecord], updatedField: String) {
            let sorted = records.map { record in
                (updated: record.fields[updatedField]?.stringValue.flatMap(Timestamps.parse) ?? .distantPast, record: record)
            }.sorted { $0.updated < $1.updated }
            updated = sorted.map(\.updated)
            encoded = sorted.map { (try? JSONValue.object(JSONObject($0.record.fields)).canonicalData()) ?? Data("{}".utf8) }
        }

        /// The answer `envelope` makes of `range`'s records, written around their stored JSON.
        func answer(_ range: Range<Int>, envelope: (_ count: Int, _ records: JSONValue) -> [String: JSONValue]) -> Response {
            // The envelope is written with a marker string where the records go, then the marker
            // (quotes and all) is replaced by the array.
            let marker = "records-\(UUID().uuidString)"
            var body = (try? JSONValue.object(JSONObject(envelope(range.count, .string(marker)))).canonicalData()) ?? Data("{}".utf8)
            if let place = body.firstRange(of: Data("\"\(marker)\"".utf8)) {
                var array = Data("[".utf8)
                array.reserveCapacity(range.reduce(2) { $0 + encoded[$1].count + 1 })
                for index in range {
                    if index > range.lowerBound { array.append(UInt8(ascii: ",")) }
                    array.append(encoded[index])
                }
                array.append(UInt8(ascii: "]"))
                body.replaceSubrange(place, with: array)
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Corrects the portal record `id` as a department fixing its data would: `changes` replace
    /// its fields, and its update time becomes a minute after the latest, so a pull that asks
    /// for what changed since its cursor gets it. Returns false when there is no such record.
    @discardableResult
    public func correctPortalRecord(id: String, changes: [String: JSONValue]) -> Bool {
        servedPortal.withLock { portal in
            guard let index = portal.records.firstIndex(where: { $0.recordID == id }) else { return false }
            let latest = portal.served.updated.max() ?? Date()
            portal.records[index].fields.merge(changes) { $1 }
            portal.records[index].fields["capNhatLuc"] = .string(Timestamps.format(latest.addingTimeInterval(60)))
            portal.served = ServedRecords(portal.records, updatedField: "capNhatLuc")
            return true
        }
    }

    /// Every access token issued so far, live or not (tests scan logs for them).
    public var issuedTokens: [String] { state.withLock { Array($0.tokens.keys) + $0.revoked } }

    /// Makes every issued token invalid, as a WSO2 revocation would.
    public func revokeAllTokens() {
        state.withLock {
            $0.revoked += $0.tokens.keys
            $0.tokens.removeAll()
        }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        education.addRoutes(to: router)
        router.post("token") { request, _ in try await self.token(request) }
        router.get("dvc/1.0.0/chi-tieu") { request, _ in
            try self.serve(
                request, records: self.portal,
                envelope: { count, records in
                    ["trangThai": .string("OK"), "duLieu": .object(["tongSo": .number(Double(count)), "banGhi": records])]
                }, sinceParameter: "tu_thoi_diem")
        }
        router.get("thongke/1.0.0/kinh-te-so.csv") { request, _ in self.serveCSV(request) }
        // Answers a source should never give, one of each kind, for the adapters' error handling.
        for kind in MalformedAnswer.allCases {
            router.get(RouterPath("hong/\(kind.rawValue)")) { request, _ in
                guard self.isAuthorized(request, by: .bearerToken) else { return Self.json(.unauthorized, [:]) }
                return try await kind.response()
            }
        }
        router.get("dvc/1.0.0/ho-so-theo-thu-tuc") { request, _ in
            guard self.isAuthorized(request, by: .bearerToken) else {
                return Self.json(.unauthorized, ["fault": .object(["message": .string("Invalid Credentials")])])
            }
            return Self.json(.ok, ["duLieu": .array(self.configuration.dataset.dossiersByProcedure)])
        }
        // The portal's figures again, as a WSO2 Data Services endpoint answers: XML in its namespace.
        router.get("dss/services/ChiTieuDataService/chi-tieu") { request, _ in self.serveXML(request) }
        // The portal's figures again, a page at a time, in each way sources split their answers.
        // And two that page wrongly: `self` links back to the page it is on, `shifted` serves each
        // later page from one record earlier (as when a record is inserted during a pull).
        for kind in ["page", "offset", "link", "token", "foreign", "self", "shifted", "ignore"] {
            router.get(RouterPath("paged/\(kind)/dvc/chi-tieu")) { request, _ in self.servePage(request, kind: kind) }
        }
        // The portal's figures again, the first record's id carrying a NUL and an escape: what a
        // careless export from a C program or a terminal paste can leave in a field.
        router.get("hong/ky-tu-dieu-khien/dvc/chi-tieu") { request, _ in
            guard self.isAuthorized(request, by: .bearerToken) else { return Self.json(.unauthorized, [:]) }
            var records = self.configuration.dataset.portalRecords.map { JSONValue.object(JSONObject($0.fields)) }
            if case .object(var first)? = records.first {
                first["id"] = .string((first["id"]?.stringValue ?? "") + "\u{0}\u{1B}[2J")
                records[0] = .object(first)
            }
            return Self.json(.ok, ["duLieu": .object(["banGhi": .array(records)])])
        }
        // The portal's figures again, behind the other kinds of credential adapters support.
        for (prefix, credential) in [("apikey", Credential.apiKey), ("basic", .basic)] {
            router.get(RouterPath("\(prefix)/dvc/chi-tieu")) { request, _ in
                try self.serve(
                    request, records: self.portal,
                    envelope: { _, records in
                        ["duLieu": .object(["banGhi": records])]
                    }, sinceParameter: "tu_thoi_diem", credential: credential)
            }
        }
        // A telecom operator's coverage report, outside the LGSP: an API key, pages of `size` records.
        router.get("vienthong/api/v1/phu-cap-quang") { request, _ in
            try self.serve(
                request, records: self.telecom,
                envelope: { count, records in
                    ["data": records, "count": .number(Double(count))]
                }, sinceParameter: "cap_nhat_tu", credential: .apiKey, pageParameters: ("page", "size"))
        }
        router.get("qlvb/1.0.0/thong-ke-ho-so") { request, _ in
            try self.serve(
                request, records: self.documents,
                envelope: { count, records in
                    ["ketQua": .object(["danhSach": records]), "soLuong": .number(Double(count))]
                }, sinceParameter: "cap_nhat_tu", pageParameters: ("trang", "so_ban_ghi"), pagesOnlyWhenAsked: true)
        }
    }

    /// The State Bank branch's report, on a server of its own that admits only clients with a
    /// certificate from the test CA: the TLS handshake is the credential.
    func addBankRoutes(to router: Router<BasicRequestContext>) {
        router.get("nhnn/v1/bao-cao/tai-khoan-thanh-toan") { request, _ in
            try self.serve(
                request, records: self.bank,
                envelope: { _, records in
                    ["baoCao": .object(["duLieu": records])]
                }, sinceParameter: "tu_ngay", credential: .clientCertificate)
        }
    }

    private func serveXML(_ request: Request) -> Response {
        guard isAuthorized(request, by: .bearerToken) else {
            return Self.json(.unauthorized, ["fault": .object(["message": .string("Invalid Credentials")])])
        }
        func escaped(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
                of: ">", with: "&gt;")
        }
        var xml =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- ChiTieuDataService -->\n<Entries xmlns=\"http://ws.wso2.org/dataservice\">\n"
        let records = configuration.dataset.portalRecords
        for record in records {
            xml += "  <Entry>\n"
            for (name, value) in record.fields.sorted(by: { $0.key < $1.key }) {
                let text: String
                switch value {
                case .number(let n): text = n.rounded() == n ? String(Int(n)) : String(n)
                case .string(let string): text = escaped(string)
                default: continue
                }
                xml += "    <\(name)>\(text)</\(name)>\n"
            }
            xml += "    <ghiChu><![CDATA[Số liệu <sơ bộ> & chưa kiểm tra]]></ghiChu>\n  </Entry>\n"
        }
        xml += "</Entries>\n"
        state.withLock { $0.statistics.recordsServed += records.count }
        return Response(
            status: .ok, headers: [.contentType: "application/xml; charset=UTF-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: Data(xml.utf8))))
    }

    /// One page of the portal's records: `page` takes `trang` (from 1) and `so_ban_ghi`; `offset`
    /// takes `offset` and `limit`; `link` and `token` serve 4 records a page and give the next
    /// page as a relative link or an opaque token; `foreign` links to another server.
    private func servePage(_ request: Request, kind: String) -> Response {
        guard isAuthorized(request, by: .bearerToken) else {
            return Self.json(.unauthorized, ["fault": .object(["message": .string("Invalid Credentials")])])
        }
        let records = configuration.dataset.portalRecords.map { JSONValue.object(JSONObject($0.fields)) }
        func parameter(_ name: String) -> Int? { request.uri.queryParameters[Substring(name)].flatMap { Int(String($0)) } }
        let start: Int, count: Int
        switch kind {
        case "page":
            count = parameter("so_ban_ghi") ?? 10
            start = ((parameter("trang") ?? 1) - 1) * count
        case "offset":
            count = parameter("limit") ?? 10
            start = parameter("offset") ?? 0
        case "shifted":
            count = parameter("limit") ?? 10
            start = max(0, (parameter("offset") ?? 0) - 1)
        case "ignore":
            count = parameter("so_ban_ghi") ?? 10
            start = 0
        case "token":
            count = 4
            start = request.uri.queryParameters["pageToken"].flatMap { Int(String($0).dropFirst(4)) } ?? 0
        default:
            count = 4
            start = ((parameter("p") ?? 1) - 1) * 4
        }
        let page = Array(records.dropFirst(max(0, start)).prefix(max(0, count)))
        state.withLock { $0.statistics.recordsServed += page.count }
        var body: [String: JSONValue] = ["duLieu": .object(["banGhi": .array(page)])]
        let more = start + count < records.count
        switch kind {
        case "link" where more: body["lienKet"] = .object(["tiepTheo": .string("/paged/link/dvc/chi-tieu?p=\(start / 4 + 2)")])
        case "link": body["lienKet"] = .object(["tiepTheo": .null])
        case "token" where more: body["trangSau"] = .string("tok-\(start + count)")
        case "foreign": body["lienKet"] = .object(["tiepTheo": .string("https://lgsp.example.net/paged/link/dvc/chi-tieu?p=2")])
        case "self": body["lienKet"] = .object(["tiepTheo": .string("/paged/self/dvc/chi-tieu?p=1")])
        default: break
        }
        return Self.json(.ok, body)
    }

    /// The same bearer token check as the JSON routes; the answer is the CSV export as a file.
    private func serveCSV(_ request: Request) -> Response {
        guard isAuthorized(request, by: .bearerToken) else {
            return Self.json(.unauthorized, ["fault": .object(["message": .string("Invalid Credentials")])])
        }
        let since = request.uri.queryParameters["cap_nhat_tu"].flatMap { Timestamps.parse(String($0)) }
        let export = configuration.dataset.statisticsExport(updatedAfter: since)
        state.withLock { $0.statistics.recordsServed += export.goodRows + export.badRows }
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"kinh-te-so.csv\""],
            body: .init(byteBuffer: ByteBuffer(bytes: Data(export.text.utf8))))
    }

    private func token(_ request: Request) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 64 << 10)
        let body = String(buffer: bytes)
        // WSO2 does not ask for Content-Digest; a wrong one is still refused, and present ones counted.
        if let digest = request.headers[HTTPField.Name("Content-Digest")!] {
            guard ContentDigest.verify(header: digest, body: Data(buffer: bytes)) else {
                state.withLock { $0.statistics.tokenRequestsRefused += 1 }
                return Self.json(
                    .badRequest,
                    ["error": .string("invalid_request"), "error_description": .string("Content-Digest does not match the body")])
            }
            state.withLock { $0.statistics.tokenRequestsWithDigest += 1 }
        }
        let expected = "Basic " + Data("\(configuration.clientID):\(configuration.clientSecret)".utf8).base64EncodedString()
        guard request.headers[.authorization] == expected, body.split(separator: "&").contains("grant_type=client_credentials") else {
            state.withLock { $0.statistics.tokenRequestsRefused += 1 }
            return Self.json(
                .unauthorized,
                ["error": .string("invalid_client"), "error_description": .string("A valid OAuth client could not be found for client_id")])
        }
        // The API Manager grants its applications the scope `default` only.
        if let encoded = body.split(separator: "&").first(where: { $0.hasPrefix("scope=") })?.dropFirst("scope=".count),
            case let scope = String(encoded).removingPercentEncoding ?? String(encoded), scope != "default"
        {
            state.withLock { $0.statistics.tokenRequestsRefused += 1 }
            return Self.json(
                .badRequest,
                [
                    "error": .string("invalid_scope"),
                    "error_description": .string("The requested scope \(scope) is not allowed for this application"),
                ])
        }
        let token = UUID().uuidString.lowercased()
        state.withLock {
            $0.tokens[token] = Date().addingTimeInterval(Double(configuration.tokenLifetime))
            $0.statistics.tokensIssued += 1
        }
        return Self.json(
            .ok,
            [
                "access_token": .string(token), "scope": .string("default"), "token_type": .string("Bearer"),
                "expires_in": .number(Double(configuration.tokenLifetime)),
            ])
    }

    /// How a route checks its caller: the LGSP's OAuth2 bearer tokens, or, for systems outside
    /// the API Manager, an API key (header `X-API-Key` or query `api_key`, the client secret) or
    /// HTTP basic (the client id and secret).
    enum Credential {
        case bearerToken, apiKey, basic
        /// Checked by the server's TLS handshake before any request arrives.
        case clientCertificate
    }

    private func isAuthorized(_ request: Request, by credential: Credential) -> Bool {
        let authorization = request.headers[.authorization] ?? ""
        let secret = configuration.clientSecret
        return state.withLock { state -> Bool in
            state.statistics.dataRequests += 1
            let accepted: Bool
            switch credential {
            case .bearerToken:
                let token = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : ""
                accepted = state.tokens[token].map { $0 > Date() } ?? false
            case .apiKey:
                accepted =
                    request.headers[HTTPField.Name("X-API-Key")!] == secret
                    || request.uri.queryParameters["api_key"].map(String.init) == secret
            case .basic:
                accepted = authorization == "Basic " + Data("\(configuration.clientID):\(secret)".utf8).base64EncodedString()
            case .clientCertificate:
                accepted = true
            }
            if !accepted { state.statistics.unauthorizedRequests += 1 }
            return accepted
        }
    }

    private func serve(
        _ request: Request, records: ServedRecords, envelope: (_ count: Int, _ records: JSONValue) -> [String: JSONValue],
        sinceParameter: String, credential: Credential = .bearerToken,
        pageParameters: (page: String, size: String)? = nil, pagesOnlyWhenAsked: Bool = false
    ) throws -> Response {
        guard isAuthorized(request, by: credential) else {
            return Self.json(
                .unauthorized,
                [
                    "fault": .object([
                        "code": .number(900901), "message": .string("Invalid Credentials"),
                        "description": .string("Invalid Credentials. Make sure you have provided the correct security credentials"),
                    ])
                ])
        }
        let province = request.uri.queryParameters["tinh"].map(String.init)
        guard province == nil || province == configuration.dataset.province else {
            return Self.json(.ok, envelope(0, .array([])))
        }
        let since = request.uri.queryParameters[Substring(sinceParameter)].flatMap { Timestamps.parse(String($0)) }
        let start = since.map { since in records.updated.firstIndex { $0 > since } ?? records.updated.endIndex } ?? 0
        var selected = start..<records.updated.endIndex
        // A source that pages when asked answers whole otherwise.
        let paging = pageParameters.flatMap { parameters in
            !pagesOnlyWhenAsked || request.uri.queryParameters[Substring(parameters.page)] != nil ? parameters : nil
        }
        // A paged source is capped by its page size instead.
        if let limit = configuration.maxRecordsPerAnswer, paging == nil { selected = selected.prefix(limit) }
        if let (pageName, sizeName) = paging {
            let page = request.uri.queryParameters[Substring(pageName)].flatMap { Int(String($0)) } ?? 1
            let size = request.uri.queryParameters[Substring(sizeName)].flatMap { Int(String($0)) } ?? 50
            guard page >= 1, (1...10_000).contains(size) else {
                return Self.json(.badRequest, ["error": .string("\(pageName) must be 1 or more, \(sizeName) 1 to 10000")])
            }
            selected = selected.dropFirst((page - 1) * size).prefix(size)
        }
        state.withLock { $0.statistics.recordsServed += selected.count }
        return records.answer(selected, envelope: envelope)
    }

    static func json(_ status: HTTPResponse.Status, _ members: [String: JSONValue]) -> Response {
        let data = (try? JSONValue.object(JSONObject(members)).canonicalData()) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// What broken sources send: cut-off JSON, a wrong content type, an HTML error page, more than
/// an adapter accepts, bytes that are not UTF-8, an answer slower than any sane timeout, and one
/// whose headers come at once and whose body then trickles a byte a second for two minutes.
public enum MalformedAnswer: String, CaseIterable, Sendable {
    case truncated, wrongType = "wrong-type", html, oversized, invalidUTF8 = "invalid-utf8", slow, trickle

    func response() async throws -> Response {
        func answer(_ type: String, _ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
            Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        switch self {
        case .truncated: return answer("application/json", Array(#"{"duLieu":{"banGhi":[{"id":"DVC-1","giaTri":6"#.utf8))
        case .wrongType: return answer("text/plain; charset=utf-8", Array("OK".utf8))
        case .html:
            return answer(
                "text/html; charset=utf-8",
                Array("<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>".utf8))
        case .oversized:
            return answer(
                "application/json",
                Array(#"{"duLieu":{"banGhi":["#.utf8) + Array(repeating: UInt8(ascii: " "), count: 64 << 10) + Array("]}}".utf8))
        case .invalidUTF8:
            return answer("application/json", Array(#"{"duLieu":{"banGhi":[{"id":""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#""}]}}"#.utf8))
        case .slow:
            try await Task.sleep(for: .seconds(5))
            return answer("application/json", Array(#"{"duLieu":{"banGhi":[]}}"#.utf8))
        case .trickle:
            return Response(status: .ok, headers: [.contentType: "application/json"], body: Self.trickle(#"{"duLieu":{"banGhi":[]}}"#))
        }
    }

    /// `text`'s first byte at once, then one byte a second with spaces in the middle, for about
    /// two minutes: never idle long enough for a read timeout, never done within a deadline.
    static func trickle(_ text: String) -> ResponseBody {
        ResponseBody { writer in
            let bytes = Array(text.utf8)
            try await writer.write(ByteBuffer(bytes: bytes.prefix(bytes.count - 1)))
            for _ in 0..<120 {
                try await Task.sleep(for: .seconds(1))
                try await writer.write(ByteBuffer(string: " "))
            }
            try await writer.write(ByteBuffer(bytes: bytes.suffix(1)))
            try await writer.finish(nil)
        }
    }
}
