import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayHTTP
import GatewayJSON
import GatewayPipeline
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import Mustache
import NIOCore
import NIOPosix
import Synchronization

/// The console's pages and actions. Each read is one of the store roles the CLI reads through,
/// with a limit; each action is the library call the matching command makes, recorded in the
/// operator actions log with the console user's name.
struct ConsolePages: Sendable {
    let runtime: GatewayRuntime
    let sessions = ConsoleSessions()
    let limiter = LoginLimiter()
    let progressCache = ProgressCache()
    let secureCookies: Bool
    let logger: Logger

    static let sessionCookie = "lgsp_session"
    static let pageSize = 50

    var store: any GatewayStore { runtime.store }
    var settings: GatewayConfiguration.Console { runtime.loaded.configuration.console }
    var accounts: [GatewayConfiguration.Console.Account] { settings.accounts }

    func register(on router: Router<ConsoleRequestContext>) {
        router.get("console.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: ConsoleTemplates.stylesheet)))
        }
        router.get("lang/:language") { request, context in
            let language = ConsoleLanguage(rawValue: context.parameters.get("language") ?? "") ?? .vi
            var response = Response.redirect(to: Self.safeBack(Self.query(request)["back"]), type: .normal)
            response.setCookie(
                Cookie(
                    name: "lgsp_lang", value: language.rawValue, maxAge: 365 * 86400, path: "/", secure: secureCookies, httpOnly: true,
                    sameSite: .strict))
            return response
        }
        router.get("login") { request, context in
            render("login", title: "login_title", ["back": Self.safeBack(Self.query(request)["back"])], context: context)
        }
        router.post("login") { _, context in try await login(context) }
        router.post("logout") { _, context in
            if let session = context.session { sessions.end(id: session.id) }
            var response = Response.redirect(to: "/login", type: .normal)
            response.setCookie(
                Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
        router.get("/") { _, context in try await overview(context) }
        router.post("reload") { _, context in try await reload(context) }
        router.get("adapters/:name") { _, context in try await adapter(context, dryRun: false) }
        router.post("adapters/:name/test") { _, context in try await adapter(context, dryRun: true) }
        router.get("quarantine") { request, context in try await quarantine(Self.query(request), context) }
        router.get("quarantine.csv") { request, _ in quarantineCSV(Self.query(request)) }
        router.get("quarantine/:id") { _, context in try await quarantineRecord(context) }
        router.post("quarantine/reprocess") { _, context in try await reprocess(context) }
        router.post("quarantine/purge") { _, context in try await purgeQuarantined(context) }
        router.get("dead-letters") { _, context in try await deadLetters(context) }
        router.get("dead-letters/:id") { _, context in try await deadLetter(context) }
        router.post("dead-letters/retry") { _, context in try await deadLetterAction(context, retry: true) }
        router.post("dead-letters/purge") { _, context in try await deadLetterAction(context, retry: false) }
        router.get("calendar") { request, context in try await calendar(Self.query(request), context) }
        router.get("calendar/:indicator/:period") { _, context in try await calendarCell(context) }
        router.get("progress") { _, context in try await progress(context) }
        router.get("progress.csv") { _, _ in
            let report = try await progressReport().report
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"tien-do-progress.csv\""],
                body: .init(byteBuffer: ByteBuffer(string: report.csv)))
        }
        router.get("audit") { request, context in try await audit(Self.query(request), context) }
    }

    // MARK: rendering

    func render(
        _ template: String, title: String, _ data: [String: Any], context: ConsoleRequestContext, status: HTTPResponse.Status = .ok,
        notice: String? = nil, problem: String? = nil
    ) -> Response {
        let text = ConsoleText.table(context.language)
        var values = data
        values["t"] = text
        values["csrf"] = context.session?.csrf ?? ""
        values["can_act"] = context.session?.role == .operator
        let content = ConsoleTemplates.library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = [
            "t": text, "title": text[title] ?? title, "content": content, "province": runtime.loaded.configuration.gateway.province,
            "csrf": context.session?.csrf ?? "", "other_lang": context.language.other.rawValue, "back": "/",
        ]
        if let session = context.session {
            layout["user"] = ["name": session.user, "role": text["role_\(session.role.rawValue)"] ?? session.role.rawValue]
        }
        if let notice { layout["notice"] = notice }
        if let problem { layout["problem"] = problem }
        if let back = data["back_here"] as? String { layout["back"] = back }
        let html = ConsoleTemplates.library.render(layout, withTemplate: "layout") ?? ""
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func refusal(_ status: HTTPResponse.Status, key: String, context: ConsoleRequestContext) -> Response {
        let text = ConsoleText.table(context.language)
        return render(
            "message", title: status == .unauthorized ? "login_title" : "forbidden_title", ["text": text[key] ?? key], context: context,
            status: status)
    }

    func notFound(_ context: ConsoleRequestContext) -> Response {
        render("message", title: "not_found", ["text": ""], context: context, status: .notFound)
    }

    // MARK: login

    func login(_ context: ConsoleRequestContext) async throws -> Response {
        let form = context.form
        let address = context.address
        let back = Self.safeBack(form["back"])
        if limiter.isLocked(address, maximum: settings.maxFailedLogins, window: settings.loginLockout) {
            logger.warning("console login refused: too many failures", metadata: ["address": "\(address)"])
            return render(
                "login", title: "login_title", ["back": back], context: context, status: .tooManyRequests,
                problem: text("login_locked", context))
        }
        let name = form["user"] ?? ""
        let password = form["password"] ?? ""
        let account = accounts.first { $0.name == name }
        // An unknown name costs a bcrypt check too, so the answer's timing does not tell names apart.
        let hash = account?.passwordHash ?? Self.decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        guard let account, matches else {
            limiter.recordFailure(address)
            logger.warning("console login failed", metadata: ["user": "\(name.prefix(64))", "address": "\(address)"])
            return render(
                "login", title: "login_title", ["back": back], context: context, status: .unauthorized,
                problem: text("login_failed", context))
        }
        limiter.clear(address)
        let session = sessions.start(user: account.name, role: account.role, lasting: settings.sessionTimeout)
        logger.info("console login", metadata: ["user": "\(account.name)", "role": "\(account.role.rawValue)", "address": "\(address)"])
        var response = Response.redirect(to: back, type: .normal)
        response.setCookie(
            Cookie(
                name: Self.sessionCookie, value: session.id, maxAge: Int(settings.sessionTimeout.components.seconds), path: "/",
                secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    /// A bcrypt hash of nothing anyone knows, for unknown user names.
    static let decoyHash = "$2b$12$C6UzMDM.H6dfI/f/IKxGhu8Pb8Ss1r8X6RQ2M2bAc5dhTAxy1T7zW"

    func text(_ key: String, _ context: ConsoleRequestContext) -> String { ConsoleText.table(context.language)[key] ?? key }

    func record(_ context: ConsoleRequestContext, _ action: String, target: String, outcome: String) async {
        do {
            try await store.record(
                OperatorAction(
                    at: Date(), user: context.session?.user ?? "?", via: "console", action: action, target: target, outcome: outcome))
        } catch {
            logger.error("the operator actions log could not be written", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    // MARK: overview

    func overview(_ context: ConsoleRequestContext, notice: String? = nil, problem: String? = nil) async throws -> Response {
        let loaded = runtime.loaded
        let statuses = Dictionary(uniqueKeysWithValues: try await store.adapterStatuses().map { ($0.adapter, $0) })
        let never = text("never", context)
        let adapters: [[String: Any]] = loaded.adapters.map { spec in
            let status = statuses[spec.name]
            let failing =
                status?.lastError != nil
                && (status?.lastSuccess == nil || (status?.lastErrorAt ?? .distantPast) > (status?.lastSuccess ?? .distantPast))
            return [
                "name": spec.name, "origin": spec.origin, "schedule": schedule(spec.schedule, context),
                "last_pull": Self.time(status?.lastPull) ?? never, "last_success": Self.time(status?.lastSuccess) ?? never,
                "last_error": status?.lastError ?? "", "next_run": Self.time(status?.nextRun) ?? "—", "state": failing ? "failing" : "ok",
            ]
        }
        let stats = try await store.outboxStats(now: Date())
        let breakerOpen = runtime.breakerOpen.value.withLock { $0 }
        let writable = await store.isWritable()
        let snapshot = runtime.calendarSnapshot.value.withLock { $0 }
        let data: [String: Any] = [
            "adapters": adapters,
            "outbox": [
                "pending": stats.pending, "in_flight": stats.inFlight, "delivered": stats.delivered, "dead": stats.deadLettered,
                "oldest": stats.undelivered == 0
                    ? text("none", context) : "\(stats.oldestUndeliveredAgeSeconds) \(text("seconds", context))",
            ],
            "central": text(breakerOpen ? "breaker_open" : "breaker_closed", context), "central_state": breakerOpen ? "bad" : "good",
            "readiness": writable ? text("ready", context) : "\(text("not_ready", context)): \(text("store_not_writable", context))",
            "ready_state": writable && !breakerOpen ? "good" : "bad",
            "calendar": [
                "overdue": snapshot.map { String($0.overdue) } ?? "—", "due_soon": snapshot.map { String($0.dueSoon) } ?? "—",
                "when": snapshot.map { "\(text("counted_at", context)) \(Self.time($0.at) ?? "")" } ?? text("not_counted_yet", context),
            ],
        ]
        return render("overview", title: "overview_title", data, context: context, notice: notice, problem: problem)
    }

    func reload(_ context: ConsoleRequestContext) async throws -> Response {
        let outcome = await runtime.reload()
        switch outcome {
        case .refused(let issues):
            await record(
                context, "config.reload", target: runtime.loaded.configuration.file, outcome: "refused: \(issues.issues.count) problem(s)")
            return try await overview(
                context, problem: text("reload_failed", context) + " " + issues.issues.map(\.description).joined(separator: "; "))
        default:
            await record(context, "config.reload", target: runtime.loaded.configuration.file, outcome: "\(outcome)")
            return try await overview(context, notice: text("reload_done", context))
        }
    }

    // MARK: adapter

    func adapter(_ context: ConsoleRequestContext, dryRun: Bool) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        guard let spec = runtime.loaded.adapters.first(where: { $0.name == name }) else { return notFound(context) }
        var data: [String: Any] = ["name": name, "origin": spec.origin, "schedule": schedule(spec.schedule, context)]
        if let status = try await store.adapterStatuses().first(where: { $0.adapter == name }), let error = status.lastError {
            data["status_error"] = error
        }
        data["pulls"] = try await store.pulls(adapter: name, limit: Self.pageSize).map { pull -> [String: Any] in
            [
                "started": Self.time(pull.startedAt) ?? "",
                "duration": String(format: "%.1f s", pull.finishedAt.timeIntervalSince(pull.startedAt)),
                "records": pull.records, "valid": pull.valid, "quarantined": pull.quarantined, "unchanged": pull.unchanged,
                "revisions": pull.revisions, "skipped": pull.skipped, "reports": pull.reports,
                "by_rule": pull.quarantinedByRule.sorted { $0.key < $1.key }.map { ["rule": $0.key, "count": $0.value] as [String: Any] },
            ]
        }
        var dumped = ""
        dump(spec, to: &dumped, maxDepth: 12)
        data["configuration"] = dumped
        if dryRun, let adapter = runtime.adapters.first(where: { $0.name == name }) {
            let loaded = runtime.loaded
            let store = self.store
            do {
                let result = try await DryRun.run(
                    adapter, contracts: loaded.contracts, province: loaded.configuration.gateway.province,
                    figures: { valid in
                        try await PullRunner.decide(valid, against: store, resendUnchanged: loaded.configuration.delivery.resendUnchanged)
                    })
                let byRule = result.quarantinedByRule.sorted { $0.key < $1.key }.map {
                    ["rule": $0.key, "count": $0.value] as [String: Any]
                }
                data["dry"] =
                    [
                        "records": result.records, "send": result.send.count, "revisions": result.revisions,
                        "unchanged": result.unchanged.count,
                        "quarantined": result.quarantined.count, "skipped": result.skippedCount, "cursor": result.nextCursor ?? "—",
                        "ledger_problem": result.ledgerProblem ?? "", "by_rule": byRule, "has_by_rule": !byRule.isEmpty,
                        "samples": result.quarantined.prefix(20).map { record -> [String: Any] in
                            let text = (try? String(decoding: record.record.canonicalData(), as: UTF8.self)) ?? ""
                            return [
                                "summary": record.reasons.map(\.rule).joined(separator: ", "), "record": text,
                                "reasons": record.reasons.map { ["pointer": $0.pointer, "message": $0.message, "rule": $0.rule] },
                            ]
                        },
                    ] as [String: Any]
            } catch {
                data["dry"] = ["failure": "\(error)"]
            }
        }
        return render("adapter", title: "adapter_title", data, context: context)
    }

    // MARK: quarantine

    static func filter(_ query: ConsoleForm) -> QuarantineFilter {
        func value(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }
        return QuarantineFilter(
            adapter: value("adapter"), rule: value("rule"), indicator: value("indicator"), period: value("period"),
            before: value("before").flatMap { Int64($0) })
    }

    static func queryString(_ filter: QuarantineFilter, before: Int64? = nil) -> String {
        let pairs =
            [("adapter", filter.adapter), ("rule", filter.rule), ("indicator", filter.indicator), ("period", filter.period)]
            + [("before", before.map(String.init))]
        return pairs.compactMap { name, value in value.map { "\(name)=\(encode($0))" } }.joined(separator: "&")
    }

    func quarantine(_ query: ConsoleForm, _ context: ConsoleRequestContext, notice: String? = nil) async throws -> Response {
        let filter = Self.filter(query)
        let records = try await store.quarantined(matching: filter, limit: Self.pageSize)
        let rows: [[String: Any]] = records.map { record in
            [
                "id": String(record.id), "adapter": record.adapter, "indicator": record.indicator ?? "", "period": record.period ?? "",
                "area": record.area ?? "", "at": Self.time(record.quarantinedAt) ?? "", "seen": record.timesSeen,
                "reasons": record.reasons.map { ["rule": $0.rule, "message": $0.message] },
            ]
        }
        var data: [String: Any] = [
            "records": rows, "has_records": !rows.isEmpty,
            "filter": [
                "adapter": filter.adapter ?? "", "rule": filter.rule ?? "", "indicator": filter.indicator ?? "",
                "period": filter.period ?? "",
            ],
            "adapters": runtime.loaded.adapters.map { ["name": $0.name, "selected": $0.name == filter.adapter] as [String: Any] },
            "query": Self.queryString(filter), "back_here": "/quarantine?" + Self.queryString(filter, before: filter.before),
        ]
        if records.count == Self.pageSize, let last = records.last { data["next"] = Self.queryString(filter, before: last.id) }
        if filter.before != nil { data["first"] = Self.queryString(filter) }
        return render("quarantine", title: "quarantine_title", data, context: context, notice: notice)
    }

    /// The filtered set, streamed a thousand records at a time: an export of a million records
    /// never holds more than a page.
    func quarantineCSV(_ query: ConsoleForm) -> Response {
        var filter = Self.filter(query)
        filter.before = nil
        let store = self.store
        let chosen = filter
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"cach-ly-quarantine.csv\""],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: CSV.line(QuarantineCSV.header)))
                var filter = chosen
                while true {
                    let page = try await store.quarantined(matching: filter, limit: 1_000)
                    try await writer.write(ByteBuffer(string: page.map(QuarantineCSV.line).joined()))
                    guard page.count == 1_000, let last = page.last else { break }
                    filter.before = last.id
                }
                try await writer.finish(nil)
            })
    }

    func quarantineRecord(_ context: ConsoleRequestContext) async throws -> Response {
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }), let record = try await store.quarantinedRecord(id: id) else {
            return notFound(context)
        }
        var data: [String: Any] = [
            "id": String(record.id), "adapter": record.adapter, "indicator": record.indicator ?? "—", "period": record.period ?? "—",
            "area": record.area ?? "—", "at": Self.time(record.quarantinedAt) ?? "", "seen": record.timesSeen,
            "record": Self.pretty(record.record),
            "reasons": record.reasons.map { ["rule": $0.rule, "pointer": $0.pointer.isEmpty ? "/" : $0.pointer, "message": $0.message] },
        ]
        if let source = record.source { data["source"] = Self.pretty(source) }
        return render("quarantine_record", title: "quarantine_title", data, context: context)
    }

    func chosenIDs(_ form: ConsoleForm) -> [Int64] { form.all("id").compactMap { Int64($0) } }

    func reprocess(_ context: ConsoleRequestContext) async throws -> Response {
        let form = context.form
        let all = form["scope"] == "all"
        var filter = Self.filter(form)
        filter.before = nil
        let ids = chosenIDs(form)
        guard all || !ids.isEmpty else { return try await quarantine(form, context, notice: text("nothing_matched", context)) }
        let run = try await runtime.loaded.reprocessQuarantined(ids: all ? nil : ids, matching: filter, store: store)
        // What was stored goes out now, not at the forwarder's next idle poll.
        runtime.doorbell.ring()
        let target = all ? "--all " + Self.queryString(filter) : ids.map { "#\($0)" }.joined(separator: " ")
        await record(context, "quarantine.reprocess", target: target, outcome: run.outcome)
        let data: [String: Any] = [
            "summaries": run.summaries.map {
                [
                    "adapter": $0.adapter, "records": $0.records, "sent": $0.sent, "revisions": $0.revisions, "unchanged": $0.unchanged,
                    "quarantined": $0.quarantined, "skipped": $0.skipped,
                ] as [String: Any]
            },
            "problems": run.problems,
        ]
        return render(
            "reprocessed", title: "reprocess_done", data, context: context,
            notice: run.summaries.isEmpty ? text("nothing_matched", context) : nil)
    }

    func purgeQuarantined(_ context: ConsoleRequestContext) async throws -> Response {
        let ids = chosenIDs(context.form)
        guard !ids.isEmpty else { return try await quarantine(ConsoleForm(), context, notice: text("nothing_matched", context)) }
        guard context.form["confirmed"] == "1" else {
            return render(
                "confirm", title: "confirm_title",
                [
                    "action": "/quarantine/purge", "question": text("confirm_purge_quarantine", context), "items": ids.map(String.init),
                    "back": "/quarantine",
                ],
                context: context)
        }
        let purged = try await store.purgeQuarantined(ids: ids, matching: QuarantineFilter())
        await record(context, "quarantine.purge", target: ids.map { "#\($0)" }.joined(separator: " "), outcome: "\(purged) purged")
        return try await quarantine(ConsoleForm(), context, notice: "\(text("purged", context)): \(purged)")
    }

    // MARK: dead letters

    func deadLetters(_ context: ConsoleRequestContext, notice: String? = nil, problem: String? = nil) async throws -> Response {
        let letters = try await store.entries(state: .deadLettered, limit: 200)
        let rows: [[String: Any]] = letters.map { entry in
            [
                "id": entry.reportID, "short": String(entry.reportID.prefix(16)) + "…", "adapter": entry.adapter ?? "",
                "observations": entry.observationCount ?? 0, "created": Self.time(entry.createdAt) ?? "", "attempts": entry.attempts,
                "status": entry.lastStatus.map(String.init) ?? "—", "reason": entry.lastError ?? "",
            ]
        }
        return render(
            "dead_letters", title: "dead_title", ["letters": rows, "has_letters": !rows.isEmpty], context: context, notice: notice,
            problem: problem)
    }

    func deadLetter(_ context: ConsoleRequestContext) async throws -> Response {
        guard let id = context.parameters.get("id"), let entry = try await store.entry(reportID: id) else { return notFound(context) }
        let report = try await store.signedReport(reportID: id)
        let request = report.map { String(decoding: $0.body.prefix(64 << 10), as: UTF8.self) } ?? ""
        let data: [String: Any] = [
            "id": entry.reportID, "adapter": entry.adapter ?? "", "observations": entry.observationCount ?? 0,
            "created": Self.time(entry.createdAt) ?? "", "attempts": entry.attempts, "status": entry.lastStatus.map(String.init) ?? "—",
            "reason": entry.lastError ?? "", "answer": entry.response ?? "", "request": request,
        ]
        return render("dead_letter", title: "dead_title", data, context: context)
    }

    func deadLetterAction(_ context: ConsoleRequestContext, retry: Bool) async throws -> Response {
        let ids = context.form.all("id").filter { !$0.isEmpty }
        guard !ids.isEmpty else { return try await deadLetters(context, notice: text("nothing_matched", context)) }
        let action = retry ? "/dead-letters/retry" : "/dead-letters/purge"
        guard context.form["confirmed"] == "1" else {
            return render(
                "confirm", title: "confirm_title",
                [
                    "action": action, "question": text(retry ? "confirm_retry" : "confirm_purge_dead", context), "items": ids,
                    "back": "/dead-letters",
                ],
                context: context)
        }
        var done = 0
        var problems: [String] = []
        var shown: [String] = []
        for id in ids {
            do {
                guard let entry = try await store.entry(reportID: id), entry.state == .deadLettered else {
                    problems.append("\(id): not a dead letter")
                    shown.append("\(id): \(text("not_dead_letter", context))")
                    continue
                }
                if retry { try await store.requeue(reportID: id, now: Date()) } else { try await store.purge(reportID: id) }
                done += 1
            } catch {
                problems.append("\(id): \(error)")
                shown.append("\(id): \(error)")
            }
        }
        if retry { runtime.doorbell.ring() }
        let outcome = "\(retry ? "queued again" : "purged") \(done)" + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; "))
        await record(context, retry ? "outbox.retry" : "outbox.purge", target: ids.joined(separator: " "), outcome: outcome)
        return try await deadLetters(
            context, notice: "\(text(retry ? "requeued" : "purged", context)): \(done)",
            problem: shown.isEmpty ? nil : "\(text("not_done", context)) " + shown.joined(separator: "; "))
    }

    // MARK: calendar and progress

    func calendar(_ query: ConsoleForm, _ context: ConsoleRequestContext) async throws -> Response {
        let calendar = runtime.loaded.calendar
        let now = Date()
        let rows = try await calendar.rows(store: store, now: now, only: query["period"].flatMap(ReportingPeriod.init))
        let data: [String: Any] = [
            "as_of": CalendarDay(now).description, "overdue": rows.reduce(0) { $0 + $1.overdue },
            "no_expectations": calendar.expectations.isEmpty,
            "rows": rows.map { row -> [String: Any] in
                [
                    "indicator": row.indicator, "period": row.period, "due": row.due.description, "expected": row.expected,
                    "required": row.required, "on_time": row.count(.onTime), "late": row.count(.late), "pending": row.count(.pending),
                    "quarantined": row.count(.quarantined), "missing": row.count(.missing), "overdue": row.overdue,
                    "state": row.overdue > 0 ? "overdue" : "",
                ]
            },
        ]
        return render("calendar", title: "calendar_title", data, context: context)
    }

    func calendarCell(_ context: ConsoleRequestContext) async throws -> Response {
        guard let indicator = context.parameters.get("indicator"),
            let period = context.parameters.get("period").flatMap(ReportingPeriod.init)
        else { return notFound(context) }
        let rows = try await runtime.loaded.calendar.rows(store: store, now: Date(), only: period)
        guard let row = rows.first(where: { $0.indicator == indicator }) else { return notFound(context) }
        let data: [String: Any] = [
            "due": row.due.description, "expected": row.expected, "overdue": row.overdue,
            "outstanding": row.outstanding.map { figure -> [String: Any] in
                [
                    "level": figure.key.level.rawValue, "area": figure.key.area, "adapter": figure.adapter,
                    "status": text("status_\(figure.status.rawValue)", context), "overdue": figure.overdue ? text("overdue", context) : "",
                ]
            },
        ]
        return render("calendar_cell", title: "calendar_title", data, context: context)
    }

    /// The progress table and the charts' series, computed again only when the centre has
    /// accepted something since (the audit chain grew: its length is one indexed read), the
    /// configuration was reloaded, or the day changed. The store adds the figures up, a GROUP BY
    /// over every accepted figure, so the console's service also calls `refreshProgress` every few
    /// seconds: a page view finds it done unless it comes within those seconds of a delivery.
    func progressReport() async throws -> ProgressCache.Computed { try await refreshProgress() }

    @discardableResult
    func refreshProgress() async throws -> ProgressCache.Computed {
        let key = ProgressCache.Key(
            auditLength: try await store.auditLength(), generation: runtime.generation.number, day: CalendarDay(Date()).description)
        if let computed = progressCache.latest, computed.key == key { return computed }
        let loaded = runtime.loaded
        let totals = try await store.acceptedTotals()
        let report = ProgressReport.compute(
            catalogue: loaded.contracts.catalogue, province: loaded.configuration.gateway.province, totals: totals, today: Date())
        var series: [String: [(period: ReportingPeriod, value: Double)]] = [:]
        for row in report.rows where series[ProgressChart.group(row)] == nil {
            series[ProgressChart.group(row)] = ProgressReport.series(of: row, totals: totals, catalogue: loaded.contracts.catalogue)
        }
        let computed = ProgressCache.Computed(key: key, at: Date(), report: report, series: series)
        progressCache.latest = computed
        return computed
    }

    func progress(_ context: ConsoleRequestContext) async throws -> Response {
        let computed = try await progressReport()
        let (report, series) = (computed.report, computed.series)
        let show = { (value: Double?) in value.map(SemanticRules.show) ?? "—" }
        let nowUnder = text("now_under", context)
        let rows: [[String: Any]] = report.rows.map { row in
            let baseline: String = show(row.baselineValue) + (row.baselineYear.map { " (\($0))" } ?? "")
            let latest: String = show(row.latestValue) + (row.latestPeriod.map { " (\($0))" } ?? "")
            let setBy: String = row.setBy + (row.nowUnder.map { ", \(nowUnder) \($0)" } ?? "")
            let name: String = context.language == .vi ? row.nameVI : row.nameEN
            return [
                "indicator": row.indicator, "name": name, "level": row.level.rawValue, "year": row.targetYear.map(String.init) ?? "",
                "target": row.targetText, "baseline": baseline, "latest": latest, "set_by": setBy, "status": row.status.rawValue,
                "status_text": text("progress_\(row.status.rawValue)", context),
            ]
        }
        let words = ConsoleText.table(context.language)
        let charts = ProgressChart.charts(report: report, series: series, language: context.language, text: words)
        return render(
            "progress", title: "progress_title", ["rows": rows, "charts": charts, "computed_at": Self.time(computed.at) ?? ""],
            context: context)
    }

    // MARK: audit

    func audit(_ query: ConsoleForm, _ context: ConsoleRequestContext) async throws -> Response {
        let before = query["before"].flatMap { Int64($0) }
        let actions = try await store.operatorActions(before: before, limit: Self.pageSize)
        var data: [String: Any] = [
            "has_actions": !actions.isEmpty,
            "actions": actions.map { action -> [String: Any] in
                [
                    "id": action.id, "at": Self.time(action.at) ?? "", "user": action.user, "via": action.via, "action": action.action,
                    "target": action.target, "outcome": action.outcome,
                ]
            },
        ]
        if actions.count == Self.pageSize, let last = actions.last { data["older"] = String(last.id) }
        if query["verify"] == "1" {
            let links = try await store.auditLinks()
            if let problem = AuditChainCheck.firstProblem(in: links) {
                data["verified"] = ["state": "bad", "text": "\(text("audit_broken", context)): \(problem)"]
            } else {
                data["verified"] = [
                    "state": "good",
                    "text": "\(text("audit_holds", context)): \(links.count) \(text("audit_links", context))"
                        + (links.last.map { " · \($0.hash)" } ?? ""),
                ]
            }
        }
        return render("audit", title: "audit_title", data, context: context)
    }

    // MARK: helpers

    /// A schedule in the page's language; durations as the configuration writes them (`15m`, `6h`).
    func schedule(_ schedule: PullSchedule, _ context: ConsoleRequestContext) -> String {
        var parts: [String]
        switch schedule.timing {
        case .every(let interval): parts = ["\(text("schedule_every", context)) \(interval.configurationText)"]
        case .cron(let expression, let zone): parts = ["\(text("schedule_cron", context)) \"\(expression)\" (\(zone.identifier))"]
        }
        if schedule.jitter > .zero { parts.append("\(text("schedule_jitter", context)) \(schedule.jitter.configurationText)") }
        if schedule.retries > 0 { parts.append("\(schedule.retries) \(text("schedule_retries", context))") }
        return parts.joined(separator: ", ")
    }

    static func query(_ request: Request) -> ConsoleForm { ConsoleForm(urlEncoded: request.uri.query ?? "") }

    /// Only a path of this console: never another site, never `//host`.
    static func safeBack(_ back: String?) -> String {
        guard let back, back.hasPrefix("/"), !back.hasPrefix("//"), !back.contains("\\"), !back.hasPrefix("/login") else { return "/" }
        return back
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))
            ?? ""
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static let vietnamTime: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600)!
        return calendar
    }()

    /// Vietnam time, to the second, as operators read it.
    static func time(_ date: Date?) -> String? {
        guard let date else { return nil }
        let c = vietnamTime.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func pretty(_ json: String) -> String {
        guard let value = try? JSONValue.parse(Data(json.utf8)) else { return json }
        return pretty(value)
    }

    static func pretty(_ value: JSONValue) -> String {
        let compact = (try? value.canonicalData()) ?? Data()
        guard let object = try? JSONSerialization.jsonObject(with: compact, options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return String(decoding: compact, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The last progress computation and what it was computed from.
final class ProgressCache: Sendable {
    struct Key: Equatable, Sendable {
        let auditLength: Int64
        let generation: Int
        let day: String
    }
    struct Computed: Sendable {
        let key: Key
        let at: Date
        let report: ProgressReport
        let series: [String: [(period: ReportingPeriod, value: Double)]]
    }
    private let state = Mutex<Computed?>(nil)

    var latest: Computed? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
