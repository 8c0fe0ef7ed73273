import Foundation
import GatewayJSON
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A department's own system, as the education department's is: reached beside the LGSP, not
/// through it. It logs in with its own JSON POST answered by a token, answers every request with
/// HTTP 200 and a `maLoi`/`thongBao`/`duLieu` envelope (success is `"00"`; an expired session is
/// `maLoi: 401`), and pages its answers with `trang`. A test can script faults for the data
/// pages (a proxy's HTML 503, a 429 with `Retry-After`, a dropped connection) and expire every
/// session, as a restart of the system would.
public final class MockEducationSystem: Sendable {
    public static let username = "so-gddt-14"
    public static let password = "mat-khau-thu-nghiem"
    /// Records per page.
    public static let pageSize = 2

    public enum Fault: Sendable, Equatable {
        /// A reverse proxy's HTML page with HTTP 503.
        case proxyUnavailable
        /// HTTP 429 asking to wait this many seconds.
        case tooManyRequests(retryAfter: Int)
        /// A 200 whose envelope says the system is busy (`maLoi: "99"`): not worth a retry.
        case busy
    }

    public struct Statistics: Sendable, Equatable {
        public var logins = 0
        public var refusedLogins = 0
        public var dataRequests = 0
        public var expiredSessionAnswers = 0
        public var faultsServed = 0
    }

    private struct State {
        var sessions: Set<String> = []
        /// Faults to serve, in order, each to the next request of its page.
        var faults: [(page: Int, fault: Fault)] = []
        var statistics = Statistics()
    }

    private let state = Mutex(State())

    /// Share of schools using digital technology, quarter by quarter: five records, three pages.
    public static let records: [JSONValue] = zip(["Quý 3/2025", "Quý 4/2025", "Quý 1/2026", "Quý 2/2026", "Quý 3/2026"], 0...).map {
        quarter, index in
        .object([
            "maBanGhi": .string("SGD-TH-\(index + 1)"), "maChiTieu": .string("TH_UD_CNS"), "maTinh": .string("14"),
            "kyBaoCao": .string(quarter), "tyLe": .string(["61,2", "63,8", "66,5", "68,1", "71,4"][index]),
        ])
    }

    public init() {}

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Faults for the next requests of these pages, served in order.
    public func script(_ faults: [(page: Int, fault: Fault)]) { state.withLock { $0.faults += faults } }

    /// Ends every session: the next data request is answered `maLoi: 401`.
    public func expireSessions() { state.withLock { $0.sessions.removeAll() } }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("sgd/api/dang-nhap") { request, _ in try await self.login(request) }
        router.get("sgd/api/chi-tieu") { request, _ in self.page(request) }
    }

    private func login(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 10)
        let fields = try? JSONValue.parse(Data(buffer: body))
        guard fields?["tenDangNhap"] == .string(Self.username), fields?["matKhau"] == .string(Self.password) else {
            state.withLock { $0.statistics.refusedLogins += 1 }
            return Self.envelope(code: "01", message: "Sai tên đăng nhập hoặc mật khẩu", data: .null)
        }
        let token = "sgd-" + UUID().uuidString.lowercased()
        state.withLock {
            $0.sessions.insert(token)
            $0.statistics.logins += 1
        }
        return Self.envelope(
            code: "00", message: "Đăng nhập thành công", data: .object(["token": .string(token), "thoiHan": .number(1800)]))
    }

    private func page(_ request: Request) -> Response {
        let page = request.uri.queryParameters.get("trang").flatMap { Int($0) } ?? 1
        let fault: Fault? = state.withLock { state in
            state.statistics.dataRequests += 1
            guard let index = state.faults.firstIndex(where: { $0.page == page }) else { return nil }
            state.statistics.faultsServed += 1
            return state.faults.remove(at: index).fault
        }
        switch fault {
        case .proxyUnavailable?:
            return Response(
                status: .serviceUnavailable, headers: [.contentType: "text/html"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string:
                            "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body>LGSP</body></html>"))
            )
        case .tooManyRequests(let seconds)?:
            return Response(status: .tooManyRequests, headers: [HTTPField.Name("Retry-After")!: String(seconds)])
        case .busy?:
            return Self.envelope(code: "99", message: "Hệ thống đang bận, vui lòng thử lại sau", data: .null)
        case nil:
            break
        }
        let token = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let token, state.withLock({ $0.sessions.contains(token) }) else {
            state.withLock { $0.statistics.expiredSessionAnswers += 1 }
            return Self.envelope(code: 401, message: "Phiên đăng nhập đã hết hạn", data: .null)
        }
        let start = (page - 1) * Self.pageSize
        let slice = start < Self.records.count ? Array(Self.records[start..<min(start + Self.pageSize, Self.records.count)]) : []
        let pages = (Self.records.count + Self.pageSize - 1) / Self.pageSize
        return Self.envelope(
            code: "00", message: "Thành công",
            data: .object(["danhSach": .array(slice), "trang": .number(Double(page)), "tongSoTrang": .number(Double(pages))]))
    }

    static func envelope(code: JSONValue, message: String, data: JSONValue) -> Response {
        let body = (try? JSONValue.object(["maLoi": code, "thongBao": .string(message), "duLieu": data]).canonicalData()) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func envelope(code: String, message: String, data: JSONValue) -> Response {
        envelope(code: .string(code), message: message, data: data)
    }

    static func envelope(code: Int, message: String, data: JSONValue) -> Response {
        envelope(code: .number(Double(code)), message: message, data: data)
    }
}
