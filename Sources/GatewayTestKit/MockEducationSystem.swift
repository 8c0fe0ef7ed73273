import Foundation
import GatewayJSON
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A department's own system, as the education department's is: reached beside the LGSP, not
/// through it. It logs in with its own JSON POST answered by a token, answers every request with
/// HTTP 200 and a `maLoi`/`thongBao`/`duLieu` envelope (success is `"00"`; an expired session is
/// `maLoi: 401`), gives a wide table (one row per period and school group, one column per
/// indicator), and pages its answers with `trang` and `soBanGhi`. A test can script faults for
/// the data pages (a proxy's HTML 503, a 429 with `Retry-After`, a dropped connection) and expire
/// every session, as a restart of the system would.
public final class MockEducationSystem: Sendable {
    public static let username = "so-gddt-14"
    /// Rows per page when the request does not say.
    public static let pageSize = 4

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
    /// The password the login takes: the demo's client secret, so one secret file serves all.
    let password: String
    /// The wide table, in the order it is paged.
    public let rows: [JSONValue]

    init(password: String, dataset: MockDataset) {
        self.password = password
        rows = dataset.educationRows.map { .object(JSONObject($0.fields)) }
    }

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
        guard fields?["tenDangNhap"] == .string(Self.username), fields?["matKhau"] == .string(password) else {
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
        let size = max(1, request.uri.queryParameters.get("soBanGhi").flatMap { Int($0) } ?? Self.pageSize)
        let start = (page - 1) * size
        let slice = start < rows.count && start >= 0 ? Array(rows[start..<min(start + size, rows.count)]) : []
        let pages = (rows.count + size - 1) / size
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
