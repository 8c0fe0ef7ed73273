import Foundation
import GatewayContracts
import Testing

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    /// What the gateway read before it parsed the common form itself.
    static func foundation(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    @Test("the same instant as Foundation's ISO 8601 styles for 5,000 random timestamps, valid and not")
    func agreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        func two(_ number: Int) -> String { number < 10 ? "0\(number)" : String(number) }
        var checked = 0, parsed = 0
        for _ in 0..<5_000 {
            // Now and then a day, month, hour or offset out of range, or a leap day in any year.
            let year = Int.random(in: 1900...2200, using: &generator)
            let month = Int.random(in: 0...13, using: &generator)
            let day = [29, 30, 31, Int.random(in: 1...28, using: &generator)].randomElement(using: &generator)!
            let hour = Int.random(in: 0...24, using: &generator), minute = Int.random(in: 0...59, using: &generator)
            let second = Int.random(in: 0...59, using: &generator)
            let fraction =
                Bool.random(using: &generator)
                ? ""
                : "." + String((0..<Int.random(in: 1...9, using: &generator)).map { _ in "0123456789".randomElement(using: &generator)! })
            let zone = ["Z", "+07:00", "-05:30", "+00:00", "+14:00"].randomElement(using: &generator)!
            let text = "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))\(fraction)\(zone)"
            let expected = Self.foundation(text), actual = Timestamps.parse(text)
            #expect(
                (expected == nil) == (actual == nil),
                "\(text): Foundation \(String(describing: expected)), gateway \(String(describing: actual))")
            if let expected, let actual {
                // Foundation keeps fractions to the microsecond or so; the instant is the same.
                #expect(abs(expected.timeIntervalSince1970 - actual.timeIntervalSince1970) < 1e-5, "\(text)")
                parsed += 1
            }
            checked += 1
        }
        #expect(checked == 5_000 && parsed > 3_000)
    }

    @Test(
        "forms outside the strict one still go to Foundation; nonsense is nil",
        arguments: [
            ("2025-10-05T08:00:00+07:00", 1_759_626_000.0),
            ("2025-10-05T01:00:00Z", 1_759_626_000.0),
            ("2025-10-05T01:00:00.250Z", 1_759_626_000.25),
            ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ])
    func known(text: String, seconds: Double) {
        #expect(Timestamps.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(
        "what Foundation reads leniently reads as before (30 February rolls over, a one-digit offset hour, text after the offset)",
        arguments: [
            ("2025-02-30T00:00:00Z", 1_740_873_600.0), ("2025-10-05T08:00:00+7:00", 1_759_626_000.0),
            ("2025-10-05T08:00:00+07:00x", 1_759_626_000.0),
        ])
    func lenientAsBefore(text: String, seconds: Double) {
        #expect(Timestamps.parse(text)?.timeIntervalSince1970 == seconds)
        #expect(Self.foundation(text)?.timeIntervalSince1970 == seconds)
    }

    @Test("not timestamps", arguments: ["", "2025-10-05", "2025-10-05T08:00:00", "2025-10-05T08:00:00.Z", "２０２５-10-05T08:00:00Z"])
    func notTimestamps(text: String) {
        #expect(Timestamps.parse(text) == nil)
        #expect(Self.foundation(text) == nil)
    }
}
