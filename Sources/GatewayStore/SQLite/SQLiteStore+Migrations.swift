import Foundation
import GRDB
import GatewayContracts

/// The schema's history, one migration per change; an existing store opens unchanged.
extension SQLiteStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE outbox (
                        report_id TEXT PRIMARY KEY NOT NULL,
                        adapter TEXT NOT NULL,
                        body BLOB NOT NULL,
                        content_digest TEXT NOT NULL,
                        observation_count INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        next_attempt_at REAL NOT NULL,
                        lease_until REAL,
                        last_status INTEGER,
                        last_error TEXT,
                        delivered_at REAL,
                        receipt TEXT,
                        response TEXT
                    );
                    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
                    CREATE TABLE quarantine (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        adapter TEXT NOT NULL,
                        quarantined_at REAL NOT NULL,
                        record TEXT NOT NULL,
                        reasons TEXT NOT NULL
                    );
                    CREATE TABLE cursors (
                        adapter TEXT PRIMARY KEY NOT NULL,
                        cursor TEXT NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE TABLE pulls (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        adapter TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        finished_at REAL NOT NULL,
                        records INTEGER NOT NULL,
                        valid INTEGER NOT NULL,
                        quarantined INTEGER NOT NULL,
                        reports INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2-serializations") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN content_type TEXT NOT NULL DEFAULT 'application/jose+json'")
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN detached_signature TEXT")
        }
        migrator.registerMigration("v3-audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE audit (
                        sequence INTEGER PRIMARY KEY NOT NULL,
                        report_id TEXT NOT NULL,
                        content_digest TEXT NOT NULL,
                        delivered_at REAL NOT NULL,
                        receipt_digest TEXT NOT NULL,
                        previous_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    )
                    """)
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN receipt_verified INTEGER")
        }
        migrator.registerMigration("v4-adapter-status") { db in
            try db.execute(
                sql: """
                    CREATE TABLE adapter_status (
                        adapter TEXT PRIMARY KEY NOT NULL,
                        last_pull_at REAL,
                        last_success_at REAL,
                        last_error TEXT,
                        last_error_at REAL,
                        next_run_at REAL
                    )
                    """)
        }
        // A signed report is hundreds of kilobytes, which SQLite keeps in a chain of overflow
        // pages after the row's earlier columns and before its later ones. In the outbox row it
        // was walked to read `state` or `created_at`, and rewritten whole by every lease and
        // every completion; counting the outbox read every stored report. Bodies never change
        // once stored, so they live in a table of their own, and `outbox.body` stays empty.
        // Reports stored before stay where they are until delivered and pruned: copying them at
        // the first start after an upgrade would double the store on disk and hold READY back in
        // proportion to the backlog (11 s for a million observations), which is largest after a
        // long outage, when the disk is also fullest.
        migrator.registerMigration("v5-report-bodies") { db in
            try db.execute(sql: "CREATE TABLE report_bodies (report_id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL)")
        }
        // The figures ledger: every revision of every figure sent (`figures`), and per report when
        // it was stored and accepted (`figure_reports`), so a delivery marks its figures with one
        // row. The table is its key's B-tree, led by indicator, period and area, the order sources
        // list their figures in, so a pull's figures land in few pages and each is written once
        // (a rowid table with an index on the key wrote them twice, twice the bytes). Keyed by a
        // hash of the key, each transaction of a long pull touched thousands of pages at random. Built from the reports
        // the store holds, so an upgraded gateway neither re-sends history nor loses it.
        migrator.registerMigration("v6-figures") { db in
            try db.execute(
                sql: """
                    CREATE TABLE figures (
                        indicator TEXT NOT NULL,
                        province TEXT NOT NULL,
                        level TEXT NOT NULL,
                        area TEXT NOT NULL,
                        period TEXT NOT NULL,
                        revision INTEGER NOT NULL,
                        value REAL NOT NULL,
                        numerator REAL,
                        denominator REAL,
                        unit TEXT NOT NULL,
                        report_id TEXT NOT NULL,
                        PRIMARY KEY (indicator, period, area, level, province, revision)
                    ) WITHOUT ROWID;
                    CREATE TABLE figure_reports (
                        report_id TEXT PRIMARY KEY NOT NULL,
                        adapter TEXT NOT NULL,
                        stored_at REAL NOT NULL,
                        accepted_at REAL,
                        receipt TEXT
                    );
                    ALTER TABLE pulls ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE pulls ADD COLUMN revisions INTEGER NOT NULL DEFAULT 0;
                    """)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT outbox.report_id, adapter, content_type, created_at, delivered_at, receipt, \(signedBody)
                    FROM outbox LEFT JOIN report_bodies USING (report_id) ORDER BY created_at, outbox.rowid
                    """)
            let held = rows.map { row in
                LedgerBackfill.HeldReport(
                    reportID: row["report_id"], adapter: row["adapter"], body: row["signed_body"], contentType: row["content_type"],
                    storedAt: Date(timeIntervalSince1970: row["created_at"]),
                    deliveredAt: (row["delivered_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
            let receipts = Dictionary(rows.map { ($0["report_id"] as String, $0["receipt"] as String?) }, uniquingKeysWith: { $1 })
            let built = LedgerBackfill.build(from: held)
            for report in built.reports {
                try db.execute(
                    sql: "INSERT INTO figure_reports (report_id, adapter, stored_at, accepted_at, receipt) VALUES (?, ?, ?, ?, ?)",
                    arguments: [
                        report.reportID, report.adapter, report.storedAt.timeIntervalSince1970, report.acceptedAt?.timeIntervalSince1970,
                        report.acceptedAt == nil ? nil : receipts[report.reportID] ?? nil,
                    ])
            }
            for (reportID, figure) in built.figures { try insertFigure(figure, reportID: reportID, in: db) }
        }
        // The figure a quarantined record is of, when it is a mapped observation, so the calendar
        // counts a figure held in quarantine without reading every record. Filled for the records
        // already held from their JSON.
        migrator.registerMigration("v7-quarantine-figures") { db in
            try db.execute(
                sql: """
                    ALTER TABLE quarantine ADD COLUMN indicator TEXT;
                    ALTER TABLE quarantine ADD COLUMN province TEXT;
                    ALTER TABLE quarantine ADD COLUMN level TEXT;
                    ALTER TABLE quarantine ADD COLUMN area TEXT;
                    ALTER TABLE quarantine ADD COLUMN period TEXT;
                    UPDATE quarantine SET
                        indicator = CASE json_type(record, '$.indicator') WHEN 'text' THEN json_extract(record, '$.indicator') END,
                        province = CASE json_type(record, '$.province') WHEN 'text' THEN json_extract(record, '$.province') END,
                        level = CASE json_type(record, '$.level') WHEN 'text' THEN json_extract(record, '$.level') END,
                        area = CASE json_type(record, '$.area') WHEN 'text' THEN json_extract(record, '$.area') END,
                        period = CASE json_type(record, '$.period') WHEN 'text' THEN json_extract(record, '$.period') END
                    WHERE json_valid(record) AND json_type(record) = 'object';
                    CREATE INDEX quarantine_by_figure ON quarantine(indicator, period) WHERE indicator IS NOT NULL;
                    """)
        }
        // A source without an "updated since" parameter serves the same bad records at every
        // pull: each is kept once, with when it was last met and how often, so the store does not
        // grow by a copy a pull. The records held are fingerprinted and folded into one each.
        migrator.registerMigration("v8-quarantine-once") { db in
            try db.execute(
                sql: """
                    ALTER TABLE quarantine ADD COLUMN fingerprint TEXT;
                    ALTER TABLE quarantine ADD COLUMN last_seen_at REAL;
                    ALTER TABLE quarantine ADD COLUMN times_seen INTEGER NOT NULL DEFAULT 1;
                    UPDATE quarantine SET last_seen_at = quarantined_at;
                    """)
            var first: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, adapter, record, reasons, quarantined_at FROM quarantine ORDER BY id") {
                let fingerprint = PullCommit.QuarantineRow(
                    record: row["record"], reasons: row["reasons"], source: nil, indicator: nil, province: nil, level: nil, area: nil,
                    period: nil
                ).fingerprint(adapter: row["adapter"])
                let key = (row["adapter"] as String) + "\u{1F}" + fingerprint
                if let kept = first[key] {
                    try db.execute(
                        sql: "UPDATE quarantine SET times_seen = times_seen + 1, last_seen_at = MAX(last_seen_at, ?) WHERE id = ?",
                        arguments: [row["quarantined_at"] as Double, kept])
                    try db.execute(sql: "DELETE FROM quarantine WHERE id = ?", arguments: [row["id"] as Int64])
                } else {
                    first[key] = row["id"]
                    try db.execute(sql: "UPDATE quarantine SET fingerprint = ? WHERE id = ?", arguments: [fingerprint, row["id"] as Int64])
                }
            }
            try db.execute(
                sql: """
                    CREATE UNIQUE INDEX quarantine_once ON quarantine(adapter, fingerprint);
                    CREATE INDEX quarantine_newest ON quarantine(adapter, id);
                    """)
        }
        // Records of codes an adapter skips, counted in the pull history beside the others.
        migrator.registerMigration("v9-skipped") { db in
            try db.execute(sql: "ALTER TABLE pulls ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v10-quarantine-source") { db in
            try db.execute(sql: "ALTER TABLE quarantine ADD COLUMN source_record TEXT")
        }
        migrator.registerMigration("v11-operator-actions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE operator_actions (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL, via TEXT NOT NULL,
                        action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL
                    )
                    """)
        }
        migrator.registerMigration("v12-quarantine-rules") { db in
            // A rule met once in ten thousand records was found by reading the reasons of half a
            // million: the console's filter by rule wants an index.
            try db.execute(
                sql: """
                    CREATE TABLE quarantine_rules (
                        rule TEXT NOT NULL, quarantine_id INTEGER NOT NULL REFERENCES quarantine(id) ON DELETE CASCADE,
                        PRIMARY KEY (rule, quarantine_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX quarantine_rules_by_record ON quarantine_rules(quarantine_id);
                    INSERT OR IGNORE INTO quarantine_rules (rule, quarantine_id)
                        SELECT json_extract(reason.value, '$.rule'), quarantine.id FROM quarantine, json_each(quarantine.reasons) AS reason
                        WHERE json_extract(reason.value, '$.rule') IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v13-pulls-by-adapter") { db in
            // The console's adapter page reads one adapter's latest pulls, of years of them.
            try db.execute(sql: "CREATE INDEX pulls_by_adapter ON pulls(adapter, id)")
        }
        migrator.registerMigration("v14-pulls-by-rule") { db in
            // The console's pull history shows what each pull quarantined, by rule.
            try db.execute(sql: "ALTER TABLE pulls ADD COLUMN quarantined_by_rule TEXT")
        }
        return migrator
    }
}
