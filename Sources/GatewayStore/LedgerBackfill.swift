import Foundation
import GatewayContracts
import GatewayJSON
import GatewaySigning

/// The figures ledger an upgraded store builds from the reports it already holds, so that the
/// first pull after the upgrade neither sends the province's history again nor forgets it.
enum LedgerBackfill {
    struct HeldReport {
        let reportID: String
        let adapter: String
        let body: Data
        let contentType: String
        let storedAt: Date
        let deliveredAt: Date?
    }

    struct Built {
        var reports: [(reportID: String, adapter: String, storedAt: Date, acceptedAt: Date?)] = []
        var figures: [(reportID: String, figure: ReportedFigure)] = []
        /// Reports whose payload could not be read: left out of the ledger, named in the log.
        var unreadable: [String] = []
    }

    /// `reports` in the order they were stored: a figure's first value is revision 1, and each
    /// later report that changes it adds the next; a report repeating the current value adds none.
    static func build(from reports: [HeldReport]) -> Built {
        var built = Built()
        var latest: [FigureKey: (revision: Int, value: FigureValue)] = [:]
        for report in reports {
            guard let observations = observations(in: report) else {
                built.unreadable.append(report.reportID)
                continue
            }
            built.reports.append((report.reportID, report.adapter, report.storedAt, report.deliveredAt))
            for observation in observations {
                let key = observation.figureKey, value = observation.figureValue
                if let current = latest[key], current.value == value { continue }
                let revision = (latest[key]?.revision ?? 0) + 1
                latest[key] = (revision, value)
                built.figures.append((report.reportID, ReportedFigure(key: key, revision: revision, value: value)))
            }
        }
        return built
    }

    /// The observations of a stored report, from its body in whichever serialization it was sent.
    static func observations(in report: HeldReport) -> [Observation]? {
        let payload: Data?
        switch report.contentType {
        case JWSSerialization.detached.contentType:
            payload = report.body
        case JWSSerialization.compact.contentType:
            let parts = String(decoding: report.body, as: UTF8.self).split(separator: ".", omittingEmptySubsequences: false)
            payload = parts.count == 3 ? Base64URL.decode(String(parts[1])) : nil
        default:
            payload = (try? JSONValue.parse(report.body))?["payload"]?.stringValue.flatMap(Base64URL.decode)
        }
        guard let payload, let json = try? JSONValue.parse(payload), let envelope = try? ReportEnvelope(json: json) else { return nil }
        return envelope.observations
    }
}
