import GatewayContracts

/// The quarantine as CSV, for `quarantine export` and the console's download.
public enum QuarantineCSV {
    public static let header = [
        "id", "adapter", "quarantined_at", "last_seen_at", "times_seen", "indicator", "period", "area", "rules", "reasons", "record",
    ]

    public static func line(_ record: StoredQuarantine) -> String {
        let reasons = record.reasons.map { "\($0.pointer.isEmpty ? "/" : $0.pointer): \($0.message) [\($0.rule)]" }
        return CSV.line([
            String(record.id), record.adapter, Timestamps.format(record.quarantinedAt), Timestamps.format(record.lastSeenAt),
            String(record.timesSeen), record.indicator ?? "", record.period ?? "", record.area ?? "",
            record.reasons.map(\.rule).joined(separator: ";"), reasons.joined(separator: "\n"), record.record,
        ])
    }
}
