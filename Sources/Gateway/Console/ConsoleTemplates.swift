import Mustache

/// The console's pages, as mustache templates: markup only. Every word shown comes from
/// `ConsoleText` through `t.…`; every value is escaped unless a template says `{{{…}}}` (the
/// page body the layout wraps, and charts the server drew).
enum ConsoleTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in sources {
            // The templates are part of the program: one that does not parse is a bug a test finds.
            try! library.register(text, named: name)
        }
        return library
    }()

    static let sources: [String: String] = [
        "layout": """
        <!doctype html>
        <html lang="{{t.lang_code}}">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · {{t.app_name}}</title><link rel="stylesheet" href="/console.css"></head>
        <body>
        <header>
        <span class="brand">{{t.app_name}}</span> <span class="province">{{t.province}} {{province}}</span>
        {{#user}}
        <nav>
        <a href="/">{{t.nav_overview}}</a> <a href="/quarantine">{{t.nav_quarantine}}</a> <a href="/dead-letters">{{t.nav_dead_letters}}</a>
        <a href="/calendar">{{t.nav_calendar}}</a> <a href="/progress">{{t.nav_progress}}</a> <a href="/audit">{{t.nav_audit}}</a>
        </nav>
        <span class="who">{{t.signed_in_as}} <strong id="user-name">{{name}}</strong> ({{role}})</span>
        <form class="inline" method="post" action="/logout">{{> csrf}}<button>{{t.logout}}</button></form>
        {{/user}}
        <a class="lang" id="lang-switch" href="/lang/{{other_lang}}?back={{back}}">{{t.lang_switch}}</a>
        </header>
        <main>
        <h1>{{title}}</h1>
        {{#notice}}<p class="notice" id="notice">{{.}}</p>{{/notice}}
        {{#problem}}<p class="problem" id="problem">{{.}}</p>{{/problem}}
        {{{content}}}
        </main>
        </body>
        </html>
        """,
        "csrf": #"<input type="hidden" name="csrf" value="{{csrf}}">"#,
        "login": """
        <form method="post" action="/login" class="login">
        <input type="hidden" name="back" value="{{back}}">
        <label>{{t.login_user}} <input name="user" id="login-user" autocomplete="username" required></label>
        <label>{{t.login_password}} <input name="password" id="login-password" type="password" autocomplete="current-password" required></label>
        <button id="login-submit">{{t.login_submit}}</button>
        </form>
        """,
        "message": "<p>{{text}}</p>",
        "overview": """
        <section><h2>{{t.adapters}}</h2>
        <table><thead><tr><th>{{t.adapter}}</th><th>{{t.source}}</th><th>{{t.schedule}}</th><th>{{t.last_pull}}</th><th>{{t.last_success}}</th><th>{{t.last_error}}</th><th>{{t.next_run}}</th></tr></thead>
        <tbody>{{#adapters}}<tr class="{{state}}"><td><a href="/adapters/{{name}}">{{name}}</a></td><td>{{origin}}</td><td>{{schedule}}</td><td>{{last_pull}}</td><td>{{last_success}}</td><td>{{last_error}}</td><td>{{next_run}}</td></tr>{{/adapters}}</tbody></table>
        {{#can_act}}<form method="post" action="/reload">{{> csrf}}<button id="reload">{{t.reload}}</button></form>{{/can_act}}
        </section>
        <section><h2>{{t.outbox}}</h2>
        <dl class="counts">
        <dt>{{t.pending}}</dt><dd id="outbox-pending">{{outbox.pending}}</dd>
        <dt>{{t.in_flight}}</dt><dd>{{outbox.in_flight}}</dd>
        <dt>{{t.delivered}}</dt><dd id="outbox-delivered">{{outbox.delivered}}</dd>
        <dt><a href="/dead-letters">{{t.dead_letters}}</a></dt><dd id="outbox-dead">{{outbox.dead}}</dd>
        <dt>{{t.oldest_undelivered}}</dt><dd>{{outbox.oldest}}</dd>
        </dl></section>
        <section><h2>{{t.central}} · {{t.readiness}}</h2>
        <p class="{{central_state}}">{{central}}</p><p class="{{ready_state}}">{{readiness}}</p></section>
        <section><h2><a href="/calendar">{{t.figures_overdue}}</a></h2>
        <p><strong id="figures-overdue">{{calendar.overdue}}</strong> · {{t.figures_due_soon}}: {{calendar.due_soon}} <small>({{calendar.when}})</small></p></section>
        """,
        "adapter": """
        <p>{{t.source}}: <code>{{origin}}</code> · {{t.schedule}}: {{schedule}} · <a href="/quarantine?adapter={{name}}">{{t.see_quarantine}}</a></p>
        {{#status_error}}<p class="problem">{{t.last_error}}: {{.}}</p>{{/status_error}}
        <form method="post" action="/adapters/{{name}}/test">{{> csrf}}<button id="dry-run">{{t.dry_run}}</button></form>
        {{#dry}}
        <section id="dry-run-result"><h2>{{t.dry_run_result}}</h2>
        {{#failure}}<p class="problem">{{t.dry_run_failed}} {{.}}</p>{{/failure}}
        {{^failure}}
        <dl class="counts"><dt>{{t.records}}</dt><dd>{{records}}</dd><dt>{{t.to_send}}</dt><dd id="dry-send">{{send}}</dd><dt>{{t.revisions}}</dt><dd>{{revisions}}</dd>
        <dt>{{t.unchanged}}</dt><dd>{{unchanged}}</dd><dt>{{t.quarantined}}</dt><dd id="dry-quarantined">{{quarantined}}</dd><dt>{{t.skipped}}</dt><dd>{{skipped}}</dd>
        <dt>{{t.next_cursor}}</dt><dd>{{cursor}}</dd></dl>
        {{#ledger_problem}}<p class="problem">{{t.ledger_problem}} {{.}}</p>{{/ledger_problem}}
        {{#has_by_rule}}<h3>{{t.quarantined_by_rule}}</h3><ul>{{/has_by_rule}}{{#by_rule}}<li><code>{{rule}}</code>: {{count}}</li>{{/by_rule}}{{#has_by_rule}}</ul>{{/has_by_rule}}
        {{#samples}}<details><summary>{{summary}}</summary><pre>{{record}}</pre><ul>{{#reasons}}<li><code>{{pointer}}</code> {{message}} [{{rule}}]</li>{{/reasons}}</ul></details>{{/samples}}
        {{/failure}}
        </section>
        {{/dry}}
        <section><h2>{{t.pull_history}}</h2>
        <table id="pull-history"><thead><tr><th>{{t.started}}</th><th>{{t.duration}}</th><th>{{t.records}}</th><th>{{t.valid}}</th><th>{{t.quarantined}}</th><th>{{t.unchanged}}</th><th>{{t.revisions}}</th><th>{{t.skipped}}</th><th>{{t.reports}}</th></tr></thead>
        <tbody>{{#pulls}}<tr><td>{{started}}</td><td>{{duration}}</td><td>{{records}}</td><td>{{valid}}</td><td>{{quarantined}}{{#by_rule}}<br><small><code>{{rule}}</code> ×{{count}}</small>{{/by_rule}}</td><td>{{unchanged}}</td><td>{{revisions}}</td><td>{{skipped}}</td><td>{{reports}}</td></tr>{{/pulls}}</tbody></table>
        </section>
        <section><h2>{{t.configuration}}</h2><pre id="adapter-configuration">{{configuration}}</pre></section>
        """,
        "quarantine": """
        <form method="get" action="/quarantine" class="filters">
        <label>{{t.adapter}} <select name="adapter"><option value="">{{t.any}}</option>{{#adapters}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/adapters}}</select></label>
        <label>{{t.rule}} <input name="rule" value="{{filter.rule}}"></label>
        <label>{{t.indicator}} <input name="indicator" value="{{filter.indicator}}"></label>
        <label>{{t.period}} <input name="period" value="{{filter.period}}"></label>
        <button>{{t.filter}}</button> <a href="/quarantine.csv?{{query}}" id="export-csv">{{t.export_csv}}</a>
        </form>
        {{^records}}<p id="quarantine-empty">{{t.no_quarantine}}</p>{{/records}}
        {{#has_records}}
        <form method="post" action="/quarantine/reprocess" id="quarantine-form">{{> csrf}}
        <input type="hidden" name="adapter" value="{{filter.adapter}}"><input type="hidden" name="rule" value="{{filter.rule}}">
        <input type="hidden" name="indicator" value="{{filter.indicator}}"><input type="hidden" name="period" value="{{filter.period}}">
        <table id="quarantine-records"><thead><tr><th>{{t.select}}</th><th>#</th><th>{{t.adapter}}</th><th>{{t.indicator}}</th><th>{{t.period}}</th><th>{{t.area}}</th><th>{{t.reasons}}</th><th>{{t.first_seen}}</th><th>{{t.times_seen}}</th></tr></thead><tbody>
        {{/has_records}}
        {{#records}}<tr><td><input type="checkbox" name="id" value="{{id}}" aria-label="{{t.select}} {{id}}"></td><td><a href="/quarantine/{{id}}">{{id}}</a></td><td>{{adapter}}</td><td>{{indicator}}</td><td>{{period}}</td><td>{{area}}</td><td>{{#reasons}}<div><code>{{rule}}</code> {{message}}</div>{{/reasons}}</td><td>{{at}}</td><td>{{seen}}</td></tr>{{/records}}
        {{#has_records}}
        </tbody></table>
        {{#can_act}}<p><button name="scope" value="selected" id="reprocess-selected">{{t.reprocess_selected}}</button> <button name="scope" value="all" id="reprocess-all">{{t.reprocess_all}}</button>
        <button formaction="/quarantine/purge" id="purge-selected" class="danger">{{t.purge_selected}}</button></p>{{/can_act}}
        </form>
        {{/has_records}}
        <p>{{#first}}<a href="/quarantine?{{first}}">{{t.first_page}}</a> {{/first}}{{#next}}<a href="/quarantine?{{next}}" id="next-page">{{t.next_page}}</a>{{/next}}</p>
        """,
        "quarantine_record": """
        <dl class="fields"><dt>{{t.adapter}}</dt><dd><a href="/adapters/{{adapter}}">{{adapter}}</a></dd><dt>{{t.indicator}}</dt><dd>{{indicator}}</dd><dt>{{t.period}}</dt><dd>{{period}}</dd>
        <dt>{{t.area}}</dt><dd>{{area}}</dd><dt>{{t.first_seen}}</dt><dd>{{at}}</dd><dt>{{t.times_seen}}</dt><dd>{{seen}}</dd></dl>
        <h2>{{t.reasons}}</h2><table><thead><tr><th>{{t.rule}}</th><th>{{t.pointer}}</th><th>{{t.message}}</th></tr></thead><tbody>
        {{#reasons}}<tr><td><code>{{rule}}</code></td><td><code>{{pointer}}</code></td><td>{{message}}</td></tr>{{/reasons}}</tbody></table>
        {{#source}}<h2>{{t.source_record}}</h2><pre id="source-record">{{.}}</pre>{{/source}}
        <h2>{{#source}}{{t.observation}}{{/source}}{{^source}}{{t.record}}{{/source}}</h2><pre id="record">{{record}}</pre>
        {{#can_act}}<form method="post" action="/quarantine/reprocess">{{> csrf}}<input type="hidden" name="id" value="{{id}}"><button name="scope" value="selected" id="reprocess-one">{{t.reprocess_selected}}</button>
        <button formaction="/quarantine/purge" class="danger">{{t.purge_selected}}</button></form>{{/can_act}}
        """,
        "confirm": """
        <form method="post" action="{{action}}" id="confirm-form">{{> csrf}}
        <p class="warning">{{question}}</p>
        <ul>{{#items}}<li><code>{{.}}</code><input type="hidden" name="id" value="{{.}}"></li>{{/items}}</ul>
        {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
        <input type="hidden" name="confirmed" value="1">
        <button id="confirm-yes" class="danger">{{t.confirm_yes}}</button> <a href="{{back}}">{{t.cancel}}</a>
        </form>
        """,
        "reprocessed": """
        <table id="reprocess-result"><thead><tr><th>{{t.adapter}}</th><th>{{t.checked_again}}</th><th>{{t.to_send}}</th><th>{{t.revisions}}</th><th>{{t.unchanged}}</th><th>{{t.quarantined_again}}</th><th>{{t.skipped}}</th></tr></thead><tbody>
        {{#summaries}}<tr><td>{{adapter}}</td><td>{{records}}</td><td class="sent">{{sent}}</td><td>{{revisions}}</td><td>{{unchanged}}</td><td>{{quarantined}}</td><td>{{skipped}}</td></tr>{{/summaries}}</tbody></table>
        {{#problems}}<p class="problem">{{.}}</p>{{/problems}}
        <p><a href="/quarantine">{{t.nav_quarantine}}</a></p>
        """,
        "dead_letters": """
        {{^letters}}<p id="dead-empty">{{t.no_dead_letters}}</p>{{/letters}}
        {{#has_letters}}<form method="post" action="/dead-letters/retry">{{> csrf}}
        <table id="dead-letters"><thead><tr><th>{{t.select}}</th><th>{{t.report_id}}</th><th>{{t.adapter}}</th><th>{{t.observations}}</th><th>{{t.created}}</th><th>{{t.attempts}}</th><th>{{t.central_status}}</th><th>{{t.reason}}</th></tr></thead><tbody>{{/has_letters}}
        {{#letters}}<tr><td><input type="checkbox" name="id" value="{{id}}" aria-label="{{t.select}} {{id}}"></td><td><a href="/dead-letters/{{id}}"><code>{{short}}</code></a></td><td>{{adapter}}</td><td>{{observations}}</td><td>{{created}}</td><td>{{attempts}}</td><td>{{status}}</td><td>{{reason}}</td></tr>{{/letters}}
        {{#has_letters}}</tbody></table>
        {{#can_act}}<p><button id="retry-selected">{{t.retry_selected}}</button> <button formaction="/dead-letters/purge" class="danger" id="purge-dead">{{t.purge_dead_selected}}</button></p>{{/can_act}}
        </form>{{/has_letters}}
        """,
        "dead_letter": """
        <dl class="fields"><dt>{{t.report_id}}</dt><dd><code>{{id}}</code></dd><dt>{{t.adapter}}</dt><dd>{{adapter}}</dd><dt>{{t.observations}}</dt><dd>{{observations}}</dd>
        <dt>{{t.created}}</dt><dd>{{created}}</dd><dt>{{t.attempts}}</dt><dd>{{attempts}}</dd><dt>{{t.central_status}}</dt><dd>{{status}}</dd><dt>{{t.reason}}</dt><dd>{{reason}}</dd></dl>
        <h2>{{t.central_answer}}</h2><pre>{{answer}}</pre>
        <h2>{{t.request}}</h2><pre>{{request}}</pre>
        {{#can_act}}<form method="post" action="/dead-letters/retry">{{> csrf}}<input type="hidden" name="id" value="{{id}}"><button>{{t.retry_selected}}</button>
        <button formaction="/dead-letters/purge" class="danger">{{t.purge_dead_selected}}</button></form>{{/can_act}}
        """,
        "calendar": """
        <p>{{t.as_of}} {{as_of}} · {{t.overdue}}: <strong>{{overdue}}</strong></p>
        {{#no_expectations}}<p class="problem">{{t.no_expectations}}</p>{{/no_expectations}}
        <table id="calendar"><thead><tr><th>{{t.indicator}}</th><th>{{t.period}}</th><th>{{t.due}}</th><th>{{t.expected}}</th><th>{{t.status_on_time}}</th><th>{{t.status_late}}</th><th>{{t.status_pending}}</th><th>{{t.status_quarantined}}</th><th>{{t.status_missing}}</th><th>{{t.overdue}}</th></tr></thead><tbody>
        {{#rows}}<tr class="{{state}}"><td><a href="/calendar/{{indicator}}/{{period}}">{{indicator}}</a>{{^required}} <small>({{t.voluntary}})</small>{{/required}}</td><td>{{period}}</td><td>{{due}}</td><td>{{expected}}</td><td>{{on_time}}</td><td>{{late}}</td><td>{{pending}}</td><td>{{quarantined}}</td><td>{{missing}}</td><td>{{overdue}}</td></tr>{{/rows}}
        </tbody></table>
        """,
        "calendar_cell": """
        <p>{{t.due}}: {{due}} · {{t.expected}}: {{expected}} · {{t.overdue}}: {{overdue}}</p>
        <h2>{{t.outstanding}}</h2>
        <table id="outstanding"><thead><tr><th>{{t.level}}</th><th>{{t.area}}</th><th>{{t.adapter}}</th><th>{{t.reason}}</th><th>{{t.overdue}}</th></tr></thead><tbody>
        {{#outstanding}}<tr><td>{{level}}</td><td>{{area}}</td><td>{{adapter}}</td><td>{{status}}</td><td>{{overdue}}</td></tr>{{/outstanding}}</tbody></table>
        """,
        "progress": """
        <p><a href="/progress.csv" id="progress-csv">{{t.download_csv}}</a> <small>({{t.counted_at}} {{computed_at}})</small></p>
        <table id="progress"><thead><tr><th>{{t.indicator}}</th><th>{{t.level}}</th><th>{{t.target_year}}</th><th>{{t.target}}</th><th>{{t.baseline}}</th><th>{{t.latest}}</th><th>{{t.set_by}}</th><th></th></tr></thead><tbody>
        {{#rows}}<tr class="{{status}}"><td title="{{name}}">{{indicator}}</td><td>{{level}}</td><td>{{year}}</td><td>{{target}}</td><td>{{baseline}}</td><td>{{latest}}</td><td>{{set_by}}</td><td>{{status_text}}</td></tr>{{/rows}}
        </tbody></table>
        {{#charts}}<figure class="chart"><figcaption>{{t.chart_of}} {{indicator}}: {{name}}</figcaption>{{{svg}}}</figure>{{/charts}}
        """,
        "audit": """
        <section><h2>{{t.audit_chain}}</h2>
        <form method="get" action="/audit"><input type="hidden" name="verify" value="1"><button id="audit-verify">{{t.audit_verify}}</button></form>
        {{#verified}}<p class="{{state}}" id="audit-result">{{text}}</p>{{/verified}}</section>
        <section><h2>{{t.actions}}</h2>
        {{^actions}}<p>{{t.no_actions}}</p>{{/actions}}
        {{#has_actions}}<table id="operator-actions"><thead><tr><th>#</th><th>{{t.at}}</th><th>{{t.user}}</th><th>{{t.via}}</th><th>{{t.action}}</th><th>{{t.target_of_action}}</th><th>{{t.outcome}}</th></tr></thead><tbody>{{/has_actions}}
        {{#actions}}<tr><td>{{id}}</td><td>{{at}}</td><td>{{user}}</td><td>{{via}}</td><td><code>{{action}}</code></td><td>{{target}}</td><td>{{outcome}}</td></tr>{{/actions}}
        {{#has_actions}}</tbody></table>{{/has_actions}}
        {{#older}}<p><a href="/audit?before={{.}}">{{t.older}}</a></p>{{/older}}
        </section>
        """,
    ]

    /// The stylesheet: small, readable on screen and on paper; nothing fetched from elsewhere.
    static let stylesheet = """
        :root { --ink: #1d2733; --muted: #5b6775; --line: #d4dbe3; --bad: #a4161a; --good: #1b6e3a; --warn: #8a5a00; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--ink); background: #f6f8fa; }
        header { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; padding: .6rem 1rem; background: #0b3d62; color: #fff; }
        header a { color: #fff; } header nav a { margin-right: .6rem; } .brand { font-weight: 700; } .lang { margin-left: auto; }
        main { padding: 1rem; max-width: 1200px; } h1 { font-size: 1.4rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin-top: 1.4rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; } th, td { border: 1px solid var(--line); padding: .3rem .45rem; text-align: left; vertical-align: top; }
        th { background: #eef2f6; } tr.failing td, tr.overdue td, tr.behind td, tr.missed td { background: #fdecec; } tr.met td, tr.on_track td { background: #ecf7ef; }
        pre { background: #fff; border: 1px solid var(--line); padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; max-height: 28rem; }
        .notice { background: #ecf7ef; border-left: 4px solid var(--good); padding: .5rem; } .problem, .bad { color: var(--bad); } .good { color: var(--good); }
        .warning { color: var(--warn); font-weight: 600; } .danger { color: var(--bad); } form.inline { display: inline; }
        dl.counts { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dl.counts dd { margin: 0; font-weight: 600; }
        dl.fields { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dl.fields dd { margin: 0; }
        .filters label { margin-right: .6rem; } .login { display: grid; gap: .6rem; max-width: 22rem; } button { font: inherit; padding: .25rem .7rem; }
        figure.chart { background: #fff; border: 1px solid var(--line); margin: 1rem 0; padding: .5rem; } figure.chart svg { max-width: 100%; height: auto; }
        @media print { header nav, header form, .lang, form button { display: none; } body { background: #fff; } figure.chart { break-inside: avoid; } }
        """
}
