import Foundation
import GatewayContracts
import GatewayJSON

/// The sources outside the LGSP's own services: the statistics office's export, a telecom
/// operator's coverage report, the State Bank branch's payment-account report and the education
/// department's own system. Each serves a
/// few figures the seed resolutions set targets for, in its own shape, and a couple it must not pass.
extension MockDataset {
    /// `KTS_GRDP` and `NSLD_TANG`, yearly, as the statistics office exports them.
    static func statisticsRows(province: String, sequence: inout Int, timestamp: (Int) -> String) -> [ExportRow] {
        // Each row's text without its last column, the date it was updated, which the row cut short lacks.
        let rows: [(text: String, dated: Bool, defect: String?)] = [
            ("KTS_GRDP;\"Tỷ trọng kinh tế số trong GRDP; giá hiện hành\";\(province);2023;\"8,41\";%;", true, nil),
            ("KTS_GRDP;\"Tỷ trọng kinh tế số trong GRDP; giá hiện hành\";\(province);2024;9,87;%;\"Số liệu \"\"sơ bộ\"\"\"", true, nil),
            ("NSLD_TANG;Tốc độ tăng năng suất lao động;\(province);2023;5,2;%;", true, nil),
            ("NSLD_TANG;Tốc độ tăng năng suất lao động;\(province);2024;6,35;%;\"Ước tính,\r\ncập nhật quý 1/2025\"", true, nil),
            // Cut short by whoever typed it: no value, unit, note or date.
            ("KTS_GRDP;Tỷ trọng kinh tế số trong GRDP;\(province);2025", false, "a row with fields missing"),
            ("KTS_GRDP;Tỷ trọng kinh tế số trong GRDP;\(province);2022;\"1.234,5\";%;nhập sai", true, "value out of range"),
        ]
        return rows.map { text, dated, defect in
            guard dated else { return ExportRow(text: text, updated: nil, defect: defect) }
            sequence += 1
            let updated = timestamp(sequence)
            return ExportRow(text: text + ";" + updated, updated: updated, defect: defect)
        }
    }

    /// Fibre coverage by half-year: households at province level and in the sample communes
    /// (`CAP_QUANG_HO_GD`), communes at province level (`CAP_QUANG_XA`). The operator writes the
    /// share as a fraction, its own codes for the indicators and levels, and periods as `H1-2025`
    /// or in words.
    static func telecomRecords(province: String, communes: Int, sequence: inout Int, timestamp: (Int) -> String) -> [SourceRecord] {
        let halves = ["H1-2025", "6 tháng cuối năm 2025", "H1-2026"]
        let halfCodes = ["2025-H1", "2025-H2", "2026-H1"]
        var records: [SourceRecord] = []
        func record(
            _ id: String, _ code: String, level: String, area: String, period: String, covered: Int, total: Int, share: Double? = nil
        ) -> SourceRecord {
            sequence += 1
            return SourceRecord(fields: [
                "id": .string(id), "maChiTieu": .string(code), "capDiaBan": .string(level), "maDiaBan": .string(area),
                "kyBaoCao": .string(period), "soDuocPhu": .number(Double(covered)), "tongSo": .number(Double(total)),
                "tyLe": .number(share ?? (Double(covered) / Double(total) * 10_000).rounded() / 10_000),
                "capNhat": .string(timestamp(sequence)),
            ])
        }
        for (index, half) in halves.enumerated() {
            let code = halfCodes[index]
            records.append(
                record(
                    "VT-HO-\(province)-\(code)", "FTTH_HO", level: "TINH", area: province, period: half,
                    covered: 241_000 + index * 14_500, total: 330_000 + index * 2_100))
            records.append(
                record(
                    "VT-XA-\(province)-\(code)", "FTTH_XA", level: "TINH", area: province, period: half,
                    covered: 61 + index * 4, total: 75))
            guard index > 0 else { continue }  // commune figures only under the communes of 1 July 2025
            for (communeIndex, commune) in sampleCommunes(communes).enumerated() {
                records.append(
                    record(
                        "VT-HO-\(commune)-\(code)", "FTTH_HO", level: "XA", area: commune, period: half,
                        covered: 2_100 + communeIndex * 310 + index * 90, total: 2_900 + communeIndex * 330))
            }
        }
        // More households covered than there are: a double count at the operator.
        var doubled = record(
            "VT-HO-\(province)-2026-H1-R", "FTTH_HO", level: "TINH", area: province, period: "H1-2026",
            covered: 341_000, total: 334_200)
        doubled.defect = "numerator greater than denominator"
        // Mobile coverage the mapping has no catalogue code for.
        var unmapped = record(
            "VT-4G-\(province)-2026-H1", "PHU_4G", level: "TINH", area: province, period: "H1-2026", covered: 70, total: 75)
        unmapped.defect = "indicator code the adapter's lookup does not know"
        return records + [doubled, unmapped]
    }

    /// The share of the population with an electronic payment account (`TK_THANH_TOAN_DT`), by
    /// half-year, at province level, as the State Bank's provincial branch reports it.
    static func bankRecords(province: String, sequence: inout Int, timestamp: (Int) -> String) -> [SourceRecord] {
        let halves = ["6 tháng đầu năm 2025", "6 tháng cuối năm 2025", "6 tháng đầu năm 2026"]
        let halfCodes = ["2025-H1", "2025-H2", "2026-H1"]
        var records: [SourceRecord] = []
        for (index, half) in halves.enumerated() {
            sequence += 1
            let population = 1_300_000 + index * 6_000, holders = 702_000 + index * 41_000
            records.append(
                SourceRecord(fields: [
                    "soHieu": .string("NHNN-\(province)-\(halfCodes[index])"), "chiTieu": .string("TKTT_DIEN_TU"),
                    "maTinh": .string(province),
                    "kyBaoCao": .string(half), "soNguoiCoTaiKhoan": .number(Double(holders)), "danSo": .number(Double(population)),
                    "tyLe": .string(vietnameseDecimal(Double(holders) / Double(population) * 100)),
                    "ngayCapNhat": .string(timestamp(sequence)),
                ]))
        }
        // A neighbouring province's row in this province's report.
        sequence += 1
        records.append(
            SourceRecord(
                fields: [
                    "soHieu": .string("NHNN-20-2026-H1"), "chiTieu": .string("TKTT_DIEN_TU"), "maTinh": .string("20"),
                    "kyBaoCao": .string("6 tháng đầu năm 2026"), "soNguoiCoTaiKhoan": .number(420_000), "danSo": .number(800_000),
                    "tyLe": .string("52,50"), "ngayCapNhat": .string(timestamp(sequence)),
                ], defect: "another province's figure"))
        return records
    }

    /// The education department's wide table: one row per period and school group, one column
    /// group per indicator (`TRUONG_HOC_CONG_NGHE_SO` for schools, `CBCC_KY_NANG_SO` for the
    /// sector's public employees trained in digital skills). The rows for the whole province
    /// (`TONG`) are the figures; the rows per school group (`MN` pre-school, `PT` general
    /// education) are the department's own breakdown, which the province has not agreed to report.
    static func educationRows(province: String) -> [WideRow] {
        let periods = ["Quý 3/2025", "Quý 4/2025", "Năm 2025", "Quý 1/2026", "Quý 2/2026", "Quý 3/2026"]
        let codes = ["2025-Q3", "2025-Q4", "2025", "2026-Q1", "2026-Q2", "2026-Q3"]
        var rows: [WideRow] = []
        for (index, period) in periods.enumerated() {
            // The year's figure is the fourth quarter's: counts at the year's end.
            let step = index < 2 ? index : index - 1
            for (group, share) in [("TONG", 1.0), ("MN", 0.38), ("PT", 0.62)] {
                let schools = Int((1_046 * share).rounded()), digital = Int(((612.0 + Double(step) * 31) * share).rounded())
                var staff = Int((24_300 * share).rounded()), trained = Int(((15_900.0 + Double(step) * 820) * share).rounded())
                var defect: String?
                if group == "TONG" && codes[index] == "2026-Q2" {
                    // Trainees of a course counted twice: more trained than there are staff.
                    (staff, trained) = (19_950, 20_310)
                    defect = "numerator greater than denominator"
                }
                let fields: [String: JSONValue] = [
                    "maBanGhi": .string("SGD-\(province)-\(codes[index])-\(group)"), "maTinh": .string(province),
                    "kyBaoCao": .string(period), "capHoc": .string(group),
                    "tongSoTruong": .number(Double(schools)), "soTruongUngDungCNS": .number(Double(digital)),
                    "tyLeTruongCNS": .string(vietnameseDecimal(Double(digital) / Double(schools) * 100)),
                    "tongSoVienChuc": .number(Double(staff)), "soVienChucDuocBoiDuong": .number(Double(trained)),
                    "tyLeBoiDuongKyNangSo": .string(vietnameseDecimal(Double(trained) / Double(staff) * 100)),
                ]
                rows.append(
                    WideRow(
                        fields: fields,
                        observations: group == "TONG"
                            ? [.init(defect: nil), .init(defect: defect)]
                            : [.init(skippedAs: "level=\(group)"), .init(skippedAs: "level=\(group)")]))
            }
        }
        return rows
    }
}
