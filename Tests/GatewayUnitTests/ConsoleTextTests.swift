import Foundation
import Testing

@testable import Gateway

@Suite("The console's words and templates")
struct ConsoleTextTests {
    /// `{{t.key}}` and the keys pages look up with `text("key")`.
    static func keysUsed() throws -> Set<String> {
        var keys = Set<String>()
        let pattern = try Regex(#"\{\{\s*t\.([a-z0-9_]+)\s*\}\}"#)
        for template in ConsoleTemplates.sources.values {
            for match in template.matches(of: pattern) { keys.insert(String(template[match.range]).dropFirst(4).dropLast(2).description) }
        }
        return keys
    }

    @Test("both languages have every key, every template's key is in them, and the Vietnamese is not the English")
    func tables() throws {
        let vietnamese = ConsoleText.table(.vi), english = ConsoleText.table(.en)
        #expect(Set(vietnamese.keys) == Set(english.keys), "\(Set(vietnamese.keys).symmetricDifference(english.keys))")
        var used = try Self.keysUsed()
        // And the words the pages look up themselves: `text("key", context)`.
        let pages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Gateway/Console/ConsolePages.swift")
        let source = try String(contentsOf: pages, encoding: .utf8)
        let lookups = source.matches(of: try Regex(#"text\("([a-z_]+)""#)).compactMap { $0.output[1].substring.map(String.init) }
        #expect(lookups.count > 20)
        used.formUnion(lookups)
        #expect(used.count > 60)
        #expect(used.subtracting(vietnamese.keys).isEmpty, "\(used.subtracting(vietnamese.keys))")
        let same = vietnamese.filter { english[$0.key] == $0.value }.map(\.key)
        #expect(same.isEmpty, "\(same)")
        // Diacritics, not ASCII stand-ins.
        #expect(vietnamese["nav_dead_letters"] == "Thư chết" && vietnamese["login_password"] == "Mật khẩu")
    }

    @Test("every template parses and renders its words, escaping what it is given")
    func templates() throws {
        for name in ConsoleTemplates.sources.keys.sorted() {
            #expect(ConsoleTemplates.library.getTemplate(named: name) != nil, "\(name)")
        }
        let page = ConsoleTemplates.library.render(
            ["t": ConsoleText.table(.vi), "text": "<script>alert(1)</script>"], withTemplate: "message")
        #expect(page == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>")
    }

    @Test("forms are read with repeated fields and percent-encoding; a back link never leaves the console")
    func formsAndRedirects() {
        let form = ConsoleForm(urlEncoded: "id=3&id=4&user=an.nguy%E1%BB%85n&note=a+b&csrf=")
        #expect(form.all("id") == ["3", "4"] && form["user"] == "an.nguyễn" && form["note"] == "a b" && form["csrf"] == "")
        #expect(ConsolePages.safeBack("/quarantine?adapter=x") == "/quarantine?adapter=x")
        for hostile in ["//evil.example/", "https://evil.example/", "/\\evil", "/login?back=/", nil] {
            #expect(ConsolePages.safeBack(hostile) == "/", "\(hostile ?? "nil")")
        }
        #expect(
            ConsolePages.constantTimeEqual("abc", "abc") && !ConsolePages.constantTimeEqual("abc", "abd")
                && !ConsolePages.constantTimeEqual("abc", "ab"))
    }

    @Test("the login limit refuses an address past its failures and forgets them after the window")
    func loginLimit() {
        let limiter = LoginLimiter()
        let start = Date(timeIntervalSince1970: 1_000_000)
        for second in 0..<3 { limiter.recordFailure("10.0.0.5", now: start.addingTimeInterval(Double(second))) }
        #expect(limiter.isLocked("10.0.0.5", maximum: 3, window: .seconds(60), now: start.addingTimeInterval(10)))
        #expect(!limiter.isLocked("10.0.0.6", maximum: 3, window: .seconds(60), now: start.addingTimeInterval(10)))
        #expect(!limiter.isLocked("10.0.0.5", maximum: 3, window: .seconds(60), now: start.addingTimeInterval(62)))
    }

    @Test("a session ends at its timeout and when a reload removes its account")
    func sessions() {
        let sessions = ConsoleSessions()
        let account = GatewayConfiguration.Console.Account(name: "an", role: .operator, passwordHash: String(repeating: "x", count: 60))
        let now = Date()
        let session = sessions.start(user: "an", role: .operator, lasting: .seconds(60), now: now)
        #expect(session.id.count == 64 && session.csrf.count == 64 && session.id != session.csrf)
        #expect(sessions.session(id: session.id, now: now.addingTimeInterval(30), accounts: [account])?.user == "an")
        #expect(sessions.session(id: session.id, now: now.addingTimeInterval(30), accounts: []) == nil)
        let later = sessions.start(user: "an", role: .operator, lasting: .seconds(60), now: now)
        #expect(sessions.session(id: later.id, now: now.addingTimeInterval(61), accounts: [account]) == nil)
    }
}
