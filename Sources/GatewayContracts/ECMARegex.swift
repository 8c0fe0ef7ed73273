import Foundation

/// A regular expression with the ECMA-262 meaning JSON Schema gives `pattern`, run on ICU
/// (NSRegularExpression) after rewriting the constructs whose meaning differs:
/// `\d` and `\w` are ASCII-only in ECMA-262 but Unicode-wide in ICU; `\s` includes U+000B and
/// U+FEFF; `$` matches only at the very end, not before a final newline.
///
/// Patterns that are a single anchored sequence of ASCII character classes with counts, the shape
/// of nearly every pattern in a data contract (`^[0-9]{2,5}$`), are also compiled to a byte matcher
/// that gives the same answers without ICU's per-call cost.
final class ECMARegex: @unchecked Sendable {
    let source: String
    // NSRegularExpression is documented as safe to use from several threads once built.
    private let regex: NSRegularExpression
    private let simple: AnchoredClassSequence?

    init(_ source: String) throws(ContractError) {
        self.source = source
        do {
            self.regex = try NSRegularExpression(pattern: ECMARegex.translate(source))
        } catch {
            throw ContractError("\"\(source)\" is not a valid regular expression")
        }
        self.simple = AnchoredClassSequence(source)
    }

    func matches(_ text: String) -> Bool {
        if let simple { return simple.matches(text) }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    private static let space = #"\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}"#

    static func translate(_ pattern: String) -> String {
        var output = ""
        var inClass = false
        var iterator = pattern.makeIterator()
        while let character = iterator.next() {
            if character == "\\" {
                guard let escaped = iterator.next() else {
                    output.append("\\")
                    break
                }
                switch (escaped, inClass) {
                case ("d", false): output += "[0-9]"
                case ("d", true): output += "0-9"
                case ("D", _): output += "[^0-9]"
                case ("w", false): output += "[a-zA-Z0-9_]"
                case ("w", true): output += "a-zA-Z0-9_"
                case ("W", _): output += "[^a-zA-Z0-9_]"
                case ("s", false): output += "[" + space + "]"
                case ("s", true): output += space
                case ("S", _): output += "[^" + space + "]"
                default:
                    output.append("\\")
                    output.append(escaped)
                }
                continue
            }
            if inClass {
                if character == "]" { inClass = false }
                // ICU reads `[` inside a class as a nested set; ECMA-262 as a literal.
                output += character == "[" ? "\\[" : String(character)
                continue
            }
            switch character {
            case "[":
                inClass = true
                output.append("[")
                // A leading `]` or `^]` is literal in neither dialect's sense; leave it to ICU.
            case "$":
                output += "\\z"
            default:
                output.append(character)
            }
        }
        return output
    }
}

/// `^` (class or literal with optional `{m}`, `{m,n}`, `?`, `*`, `+`)… `$`, over ASCII, matched
/// without backtracking by taking each element greedily. That is exact only when no later element
/// can match a character a variable one takes, which `init` checks; otherwise it returns nil and
/// ICU is used.
struct AnchoredClassSequence: Sendable {
    struct Element: Sendable {
        var accepts: [Bool]  // 128 entries
        var minimum: Int
        var maximum: Int
    }
    let elements: [Element]

    init?(_ pattern: String) {
        let bytes = Array(pattern.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "^"), bytes.last == UInt8(ascii: "$"), bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        var index = 1
        let end = bytes.count - 1
        var elements: [Element] = []
        while index < end {
            var accepts = [Bool](repeating: false, count: 128)
            let c = bytes[index]
            if c == UInt8(ascii: "[") {
                index += 1
                // A negated class also accepts non-ASCII characters, which the table cannot say.
                if index < end, bytes[index] == UInt8(ascii: "^") { return nil }
                var first = true
                while index < end, bytes[index] != UInt8(ascii: "]") || first {
                    first = false
                    var low = bytes[index]
                    if low == UInt8(ascii: "\\") {
                        guard index + 1 < end, let shorthand = AnchoredClassSequence.shorthand(bytes[index + 1]) else {
                            guard index + 1 < end, AnchoredClassSequence.isLiteralEscape(bytes[index + 1]) else { return nil }
                            low = bytes[index + 1]
                            index += 2
                            accepts[Int(low)] = true
                            continue
                        }
                        for (i, yes) in shorthand.enumerated() where yes { accepts[i] = true }
                        index += 2
                        continue
                    }
                    if low == UInt8(ascii: "[") { return nil }
                    index += 1
                    if index + 1 < end, bytes[index] == UInt8(ascii: "-"), bytes[index + 1] != UInt8(ascii: "]") {
                        let high = bytes[index + 1]
                        guard high != UInt8(ascii: "\\"), high != UInt8(ascii: "["), low <= high else { return nil }
                        for i in low...high { accepts[Int(i)] = true }
                        index += 2
                    } else {
                        accepts[Int(low)] = true
                    }
                }
                guard index < end else { return nil }
                index += 1  // ]
            } else if c == UInt8(ascii: "\\") {
                guard index + 1 < end else { return nil }
                if let shorthand = AnchoredClassSequence.shorthand(bytes[index + 1]) {
                    accepts = shorthand
                } else if AnchoredClassSequence.isLiteralEscape(bytes[index + 1]) {
                    accepts[Int(bytes[index + 1])] = true
                } else {
                    return nil
                }
                index += 2
            } else if "()|.*+?{}^$".utf8.contains(c) {
                return nil
            } else {
                accepts[Int(c)] = true
                index += 1
            }
            var minimum = 1
            var maximum = 1
            if index < end {
                switch bytes[index] {
                case UInt8(ascii: "?"): minimum = 0; index += 1
                case UInt8(ascii: "*"): minimum = 0; maximum = Int.max; index += 1
                case UInt8(ascii: "+"): maximum = Int.max; index += 1
                case UInt8(ascii: "{"):
                    guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")), close < end else { return nil }
                    let inside = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
                    let bounds = inside.split(separator: ",", omittingEmptySubsequences: false)
                    guard (1...2).contains(bounds.count), let low = Int(bounds[0]) else { return nil }
                    minimum = low
                    if bounds.count == 1 {
                        maximum = low
                    } else if bounds[1].isEmpty {
                        maximum = Int.max
                    } else if let high = Int(bounds[1]), high >= low {
                        maximum = high
                    } else {
                        return nil
                    }
                    index = close + 1
                default: break
                }
                // A lazy or possessive suffix changes nothing for a full match, but keep the rule simple.
                if index < end, bytes[index] == UInt8(ascii: "?") || bytes[index] == UInt8(ascii: "+") { return nil }
            }
            elements.append(Element(accepts: accepts, minimum: minimum, maximum: maximum))
        }
        // Greedy matching is exact only if what a variable element gives up could not be wanted by
        // anything after it.
        for (position, element) in elements.enumerated() where element.minimum != element.maximum {
            for later in elements[(position + 1)...] where (0..<128).contains(where: { element.accepts[$0] && later.accepts[$0] }) {
                return nil
            }
        }
        self.elements = elements
    }

    private static func shorthand(_ letter: UInt8) -> [Bool]? {
        var accepts = [Bool](repeating: false, count: 128)
        switch letter {
        case UInt8(ascii: "d"): for c in UInt8(ascii: "0")...UInt8(ascii: "9") { accepts[Int(c)] = true }
        case UInt8(ascii: "w"):
            for c in UInt8(ascii: "0")...UInt8(ascii: "9") { accepts[Int(c)] = true }
            for c in UInt8(ascii: "a")...UInt8(ascii: "z") { accepts[Int(c)] = true }
            for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { accepts[Int(c)] = true }
            accepts[Int(UInt8(ascii: "_"))] = true
        default: return nil
        }
        return accepts
    }

    private static func isLiteralEscape(_ c: UInt8) -> Bool { "-.^$*+?()[]{}|/\\".utf8.contains(c) }

    func matches(_ text: String) -> Bool {
        var utf8 = text.utf8.makeIterator()
        var pending = utf8.next()
        for element in elements {
            var count = 0
            while count < element.maximum, let c = pending, c < 0x80, element.accepts[Int(c)] {
                count += 1
                pending = utf8.next()
            }
            if count < element.minimum { return false }
        }
        return pending == nil
    }
}
