import Foundation
import GatewayContracts
import GatewayJSON

/// Indicator data as a provincial LGSP service answers it: Vietnamese field names, the source's
/// own indicator codes and levels, periods in the forms people type. A known share is bad.
public struct MockDataset: Sendable {
    /// One record in the source's own shape.
    public struct SourceRecord: Sendable {
        public var fields: [String: JSONValue]
        /// Why this record is deliberately bad, `nil` when it is good.
        public var defect: String?
        /// The skip code (`field=value`) the shipped adapter counts this record under, `nil` when
        /// it is mapped: a record the province has not agreed to report is neither good nor bad.
        public var skippedAs: String?

        public init(fields: [String: JSONValue], defect: String? = nil, skippedAs: String? = nil) {
            self.fields = fields
            self.defect = defect
            self.skippedAs = skippedAs
        }

        /// The source's own identifier of the record, which the shipped adapters map to
        /// `source_record_id`; the statistics export has none.
        public var recordID: String? { (fields["id"] ?? fields["ma"] ?? fields["soHieu"] ?? fields["maBanGhi"])?.stringValue }
    }

    /// A row of a wide table, which makes one observation per indicator column.
    public struct WideRow: Sendable {
        public struct Column: Sendable {
            public var defect: String?
            public var skippedAs: String?

            init(defect: String?) { self.defect = defect }
            init(skippedAs: String) { self.skippedAs = skippedAs }
        }

        public var fields: [String: JSONValue]
        /// What each column's observation is, in the adapter's `mapping.observations` order.
        public var observations: [Column]
    }

    /// One row of the statistics office's CSV export: its text as the file holds it (quoting and
    /// all), and when it was last updated, which the export can be filtered by.
    public struct ExportRow: Sendable {
        public var text: String
        public var updated: String?
        public var defect: String?
    }

    public let province: String
    public let portalRecords: [SourceRecord]
    public let documentRecords: [SourceRecord]
    public let statisticsRows: [ExportRow]
    public let telecomRecords: [SourceRecord]
    public let bankRecords: [SourceRecord]
    public let educationRows: [WideRow]

    /// Every record of every source the shipped adapters read, each pulled exactly once; a wide
    /// row counts once per observation it makes, as the gateway counts it.
    public var allRecords: [SourceRecord] {
        portalRecords + documentRecords + statisticsRows.map { SourceRecord(fields: [:], defect: $0.defect) } + telecomRecords + bankRecords
            + educationObservations
    }
    /// The education system's rows, one record per observation each makes.
    public var educationObservations: [SourceRecord] {
        educationRows.flatMap { row in
            row.observations.map { SourceRecord(fields: row.fields, defect: $0.defect, skippedAs: $0.skippedAs) }
        }
    }
    public var goodRecordCount: Int { allRecords.count { $0.defect == nil && $0.skippedAs == nil } }
    public var badRecordCount: Int { allRecords.count { $0.defect != nil } }
    public var skippedRecordCount: Int { allRecords.count { $0.skippedAs != nil } }
    /// The `source_record_id` of every observation the centre should receive.
    public var expectedSourceRecordIDs: Set<String> {
        Set(allRecords.filter { $0.defect == nil && $0.skippedAs == nil }.compactMap(\.recordID))
    }

    /// Sample commune codes of the gateway's province: illustrative five-digit codes, not the
    /// official list (the commune list itself belongs to the contracts' code lists). Every third
    /// code from 03646, then the codes between them: past 32,118 communes (a bench of 160,000
    /// observations) every third code alone ran to six digits, which the contracts quarantine,
    /// and the bench waited for figures that could never arrive.
    static func sampleCommunes(_ count: Int) -> [String] {
        let codes = (0..<3).lazy.flatMap { offset in stride(from: 3646 + offset, to: 100_000, by: 3) }
        precondition(count <= 100_000 - 3646, "the sample has five-digit codes for at most \(100_000 - 3646) communes")
        return codes.prefix(count).map { String(format: "%05d", $0) }
    }
    static let quarters = ["Quý 3/2025", "Quý 4/2025", "Quý 1/2026", "Quý 2/2026", "Quý 3/2026"]
    static let quarterCodes = ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]

    /// Deterministic data for `province` (e.g. "14", Sơn La): the same every run, so tests can count.
    /// `communes` sets how many communes report work records (6 by default; more for load).
    /// Without `educationTable`, the education system serves an empty table: its pulls, which
    /// keep no cursor and read the whole table each time, then add nothing to what a test that
    /// restarts gateways counts as pulled exactly once.
    public init(province: String = "14", communes: Int = 6, educationTable: Bool = true) {
        self.province = province
        var portal: [SourceRecord] = []
        var documents: [SourceRecord] = []
        var sequence = 0
        // One record per minute from 2026-10-01 08:00 Vietnam time, so cursors advance record by record.
        // One formatter for all: making one per record dominated building large datasets.
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
        func timestamp(_ n: Int) -> String {
            formatter.string(from: Date(timeIntervalSince1970: 1_759_280_400).addingTimeInterval(Double(n) * 60))
        }
        func ratio(_ numerator: Int, _ denominator: Int) -> Double { (Double(numerator) / Double(denominator) * 10000).rounded() / 100 }

        // Public-service portal: share of eligible procedures offered fully online, by quarter.
        let eligible = 1_812
        for (index, quarter) in Self.quarters.enumerated() {
            sequence += 1
            let online = 1_160 + index * 95
            portal.append(
                SourceRecord(fields: [
                    "id": .string("DVC-\(province)-\(Self.quarterCodes[index])"), "maChiTieu": .string("DVC_TT"),
                    "maDonVi": .string(province), "capHanhChinh": .string("TINH"), "kyBaoCao": .string(quarter),
                    "tuSo": .number(Double(online)), "mauSo": .number(Double(eligible)), "giaTri": .number(ratio(online, eligible)),
                    "donVi": .string("%"), "capNhatLuc": .string(timestamp(sequence)),
                ]))
            sequence += 1
            let submitted = 40_000 + index * 3_500, online2 = 21_000 + index * 2_900
            portal.append(
                SourceRecord(fields: [
                    "id": .string("HSTT-\(province)-\(Self.quarterCodes[index])"), "maChiTieu": .string("HS_TT"),
                    "maDonVi": .string(province), "capHanhChinh": .string("TINH"), "kyBaoCao": .string(quarter),
                    "tuSo": .number(Double(online2)), "mauSo": .number(Double(submitted)), "giaTri": .number(ratio(online2, submitted)),
                    "donVi": .string("%"), "capNhatLuc": .string(timestamp(sequence)),
                ]))
        }
        // Deliberately bad portal records, one of each kind the contracts must catch.
        let badPortal: [(String, [String: JSONValue])] = [
            ("value out of range", ["maChiTieu": .string("DVC_TT"), "kyBaoCao": .string("Quý 3/2026"), "giaTri": .number(131.5)]),
            ("unknown indicator", ["maChiTieu": .string("DVC_MD3"), "kyBaoCao": .string("Quý 3/2026"), "giaTri": .number(88)]),
            (
                "numerator greater than denominator",
                [
                    "maChiTieu": .string("HS_TT"), "kyBaoCao": .string("Quý 2/2026"),
                    "tuSo": .number(5_200), "mauSo": .number(4_100), "giaTri": .number(126.83),
                ]
            ),
            ("malformed period", ["maChiTieu": .string("DVC_TT"), "kyBaoCao": .string("Quý 5/2026"), "giaTri": .number(70.1)]),
        ]
        for (defect, overrides) in badPortal {
            sequence += 1
            var fields: [String: JSONValue] = [
                "id": .string("BAD-\(sequence)"), "maDonVi": .string(province), "capHanhChinh": .string("TINH"),
                "donVi": .string("%"), "capNhatLuc": .string(timestamp(sequence)),
            ]
            fields.merge(overrides) { $1 }
            portal.append(SourceRecord(fields: fields, defect: defect))
        }

        // Document-management system: work records handled electronically, at province and commune level.
        for (index, quarter) in Self.quarters.enumerated() {
            sequence += 1
            let total = 58_000 + index * 1_200, electronic = 51_500 + index * 1_650
            documents.append(
                SourceRecord(fields: [
                    "ma": .string("QLVB-\(province)-\(Self.quarterCodes[index])"), "chiTieu": .string("HSCV"),
                    "donVi": .object(["ma": .string(province), "cap": .string("tinh")]), "ky": .string(quarter),
                    "hoSoDienTu": .number(Double(electronic)), "tongHoSo": .number(Double(total)),
                    "tyLe": .string(Self.vietnameseDecimal(ratio(electronic, total))), "capNhat": .string(timestamp(sequence)),
                ]))
            for (communeIndex, commune) in Self.sampleCommunes(communes).enumerated() {
                sequence += 1
                let total = 900 + communeIndex * 140 + index * 25
                let electronic = 480 + communeIndex * 70 + index * 60
                documents.append(
                    SourceRecord(fields: [
                        "ma": .string("QLVB-\(commune)-\(Self.quarterCodes[index])"), "chiTieu": .string("HSCV"),
                        "donVi": .object(["ma": .string(commune), "cap": .string("xa")]), "ky": .string(quarter),
                        "hoSoDienTu": .number(Double(electronic)), "tongHoSo": .number(Double(total)),
                        "tyLe": .string(Self.vietnameseDecimal(ratio(electronic, total))), "capNhat": .string(timestamp(sequence)),
                    ]))
            }
        }
        // A district-level figure for a period after district government ended on 1 July 2025.
        sequence += 1
        documents.append(
            SourceRecord(
                fields: [
                    "ma": .string("QLVB-BAD-\(sequence)"), "chiTieu": .string("HSCV"),
                    "donVi": .object(["ma": .string("116"), "cap": .string("huyen")]), "ky": .string("Quý 4/2025"),
                    "hoSoDienTu": .number(700), "tongHoSo": .number(1_000), "tyLe": .string("70"), "capNhat": .string(timestamp(sequence)),
                ], defect: "district level after 1 July 2025"))
        portalRecords = portal
        documentRecords = documents
        statisticsRows = Self.statisticsRows(province: province, sequence: &sequence, timestamp: timestamp)
        telecomRecords = Self.telecomRecords(province: province, communes: communes, sequence: &sequence, timestamp: timestamp)
        bankRecords = Self.bankRecords(province: province, sequence: &sequence, timestamp: timestamp)
        educationRows = educationTable ? Self.educationRows(province: province) : []
    }

    /// The statistics office's export as it comes: UTF-8 with a byte order mark, `;` between fields
    /// (the decimal comma takes `,`), CRLF line ends, quoted fields holding `;`, a doubled quote
    /// and a line break, Vietnamese numbers; and two rows that must not pass: one with fields
    /// missing, one with a value no percentage can have. With `updatedAfter`, only the rows updated
    /// later, as the export's `cap_nhat_tu` parameter asks (a row without its date is then left out).
    public func statisticsExport(updatedAfter: Date? = nil) -> (text: String, goodRows: Int, badRows: Int) {
        let rows = statisticsRows.filter { row in
            guard let updatedAfter else { return true }
            return row.updated.flatMap(Timestamps.parse).map { $0 > updatedAfter } ?? false
        }
        let header = "ma_chi_tieu;ten_chi_tieu;ma_dia_ban;ky;gia_tri;don_vi;ghi_chu;cap_nhat"
        let text = "\u{FEFF}" + ([header] + rows.map(\.text)).joined(separator: "\r\n") + "\r\n"
        return (text, rows.count { $0.defect == nil }, rows.count { $0.defect != nil })
    }

    /// The portal's dossier counts per administrative procedure, two quarters of five procedures,
    /// and one row with a count missing; for the compiled adapter that sums them.
    public var dossiersByProcedure: [JSONValue] {
        var rows: [JSONValue] = []
        for (quarterIndex, quarter) in ["Quý 3/2025", "Quý 4/2025"].enumerated() {
            for procedure in 0..<5 {
                rows.append(
                    .object([
                        "maThuTuc": .string("1.00\(procedure + 1)"), "ky": .string(quarter),
                        "tongHoSo": .number(Double(100 + 10 * procedure + 20 * quarterIndex)),
                        "hoSoTrucTuyen": .number(Double(60 + 7 * procedure + 9 * quarterIndex)),
                    ]))
            }
        }
        rows.append(.object(["maThuTuc": .string("2.001"), "ky": .string("Quý 4/2025"), "tongHoSo": .number(40)]))
        return rows
    }

    /// `37.87` written the Vietnamese way, `37,87`.
    static func vietnameseDecimal(_ value: Double) -> String {
        String(format: "%.2f", value).replacingOccurrences(of: ".", with: ",")
    }
}
