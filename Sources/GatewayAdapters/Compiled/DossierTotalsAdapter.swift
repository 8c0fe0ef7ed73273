import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP
import GatewayJSON

/// The worked example of a compiled adapter. The public-service portal reports dossiers per
/// administrative procedure, and the indicator "share of dossiers processed online"
/// (`HS_TRUC_TUYEN`) is their sum over all procedures, per period: arithmetic across records,
/// which a declarative mapping (one record, one observation) cannot do.
///
/// ```yaml
/// name: ho-so-truc-tuyen
/// kind: compiled
/// type: dossier-totals
/// schedule: { cron: "0 1 * * *" }
/// settings:
///   base_url: ${LGSP_SOURCE_URL}
///   ca_bundle: ${LGSP_SOURCE_CA}
///   path: /dvc/1.0.0/ho-so-theo-thu-tuc
///   auth: { kind: oauth2_client_credentials, token_url: …, client_id: …, client_secret: … }
/// ```
///
/// The answer is `{"duLieu": [{"maThuTuc": "1.001", "ky": "Quý 3/2025", "tongHoSo": 120,
/// "hoSoTrucTuyen": 87}, …]}`; each period becomes one province-level observation whose numerator
/// and denominator are the sums. A record without both counts is quarantined on its own.
public struct DossierTotalsAdapter: Adapter, CompiledAdapterType {
    public static let type = "dossier-totals"

    struct Settings: Sendable {
        var baseURL: String
        var path: String
        var tls: EndpointTLS
        var timeout: Duration
        var auth: HTTPAdapter.AuthDefinition
    }

    public let name: String
    public let schedule: PullSchedule
    let sourceSystem: String
    let settings: Settings
    let transport: HTTPTransport
    let authentication: Authentication

    public static func configure(
        name: String, schedule: PullSchedule, sourceSystem: String, settings value: ConfigValue
    ) -> (@Sendable (AdapterResources) -> any Adapter)? {
        value.allowOnly(ConfigValue.tlsFields.union(["base_url", "path", "timeout", "auth"]))
        let baseURL = value.url("base_url")
        let path = value.optionalString("path") ?? "/dvc/1.0.0/ho-so-theo-thu-tuc"
        if !path.hasPrefix("/") { value["path"]?.report("must start with /") }
        let tls = value.endpointTLS(url: baseURL)
        let timeout = value.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600)))
        let auth =
            value["auth"].flatMap { HTTPAdapter.AuthDefinition.parse($0, baseURL: baseURL, tls: tls, timeout: timeout, allowPlain: false) }
            ?? .none
        guard let baseURL else { return nil }
        let settings = Settings(baseURL: baseURL, path: path, tls: tls, timeout: timeout, auth: auth)
        return { resources in
            DossierTotalsAdapter(
                name: name, schedule: schedule, sourceSystem: sourceSystem, settings: settings, transport: resources.transport)
        }
    }

    init(name: String, schedule: PullSchedule, sourceSystem: String, settings: Settings, transport: HTTPTransport) {
        self.name = name
        self.schedule = schedule
        self.sourceSystem = sourceSystem
        self.settings = settings
        self.transport = transport
        // The same `auth:` as a declarative adapter's, so the same rules for secrets hold.
        self.authentication = HTTPAdapter.authentication(for: settings.auth, transport: transport)
    }

    func fetch(forceRefresh: Bool) async throws -> HTTPAnswer {
        let credentials: (headers: [(String, String)], query: [(String, String)])
        do { credentials = try await authentication.credentials(forceRefresh: forceRefresh) } catch {
            throw PullError(adapter: name, "authentication failed: \(error)")
        }
        var components = URLComponents(string: settings.baseURL + settings.path)!
        if !credentials.query.isEmpty { components.queryItems = credentials.query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        do {
            return try await transport.send(
                method: "GET", url: components.string!, headers: [("Accept", "application/json")] + credentials.headers, tls: settings.tls,
                timeout: settings.timeout)
        } catch let error as TransportError {
            throw PullError(adapter: name, error.message)
        } catch {
            throw PullError(adapter: name, "request to \(settings.baseURL)\(settings.path) failed: \(error)")
        }
    }

    public func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
        var answer = try await fetch(forceRefresh: false)
        if answer.status == 401, case .oauth2ClientCredentials = authentication { answer = try await fetch(forceRefresh: true) }
        guard answer.status == 200 else { throw PullError(adapter: name, "source answered HTTP \(answer.status) for \(settings.path)") }
        guard case .array(let rows)? = (try? JSONValue.parse(answer.body))?["duLieu"] else {
            throw PullError(adapter: name, "the answer has no list at duLieu")
        }

        var records: [PulledRecord] = []
        var totals: [String: (online: Double, all: Double, procedures: Int)] = [:]
        for row in rows {
            guard let period = row["ky"]?.stringValue.flatMap(PeriodNormalizer.normalize),
                let all = row["tongHoSo"]?.numberValue, let online = row["hoSoTrucTuyen"]?.numberValue
            else {
                records.append(
                    .failed(
                        record: row,
                        reasons: [
                            QuarantineReason(
                                pointer: "", rule: "mapping.missing", message: "a procedure's row needs ky, tongHoSo and hoSoTrucTuyen")
                        ]))
                continue
            }
            totals[period, default: (0, 0, 0)].online += online
            totals[period, default: (0, 0, 0)].all += all
            totals[period, default: (0, 0, 0)].procedures += 1
        }
        for (period, sum) in totals.sorted(by: { $0.key < $1.key }) {
            let value = sum.all > 0 ? (sum.online / sum.all * 10_000).rounded() / 100 : 0
            records.append(
                .mapped(
                    .object([
                        "indicator": .string("HS_TRUC_TUYEN"), "province": .string(context.province), "level": .string("province"),
                        "area": .string(context.province), "period": .string(period), "value": .number(value), "unit": .string("percent"),
                        "numerator": .number(sum.online), "denominator": .number(sum.all), "source_system": .string(sourceSystem),
                        "source_record_id": .string("\(name)-\(period)-\(sum.procedures)-procedures"),
                        "collected_at": .string(Timestamps.format(context.collectedAt)),
                    ])))
        }
        return PullOutput(records: records, nextCursor: nil)
    }
}
