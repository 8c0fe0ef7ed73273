import Foundation

/// A regular expression with the ECMA-262 meaning JSON Schema gives `pattern`, run on ICU
/// (NSRegularExpression) after rewriting the constructs whose meaning differs:
/// `\d` and `\w` are ASCII-only in ECMA-262 but Unicode-wide in ICU; `\s` includes U+000B and
/// U+FEFF; `$` matches only at the very end, not before a final newline.
///
/// Patterns made only of literals, classes, groups, alternation and quantifiers, which is nearly
/// every pattern in a data contract (`^[0-9]{4}(-(H[12]|Q[1-4]))?$`), run on `NativeRegex`
/// instead, without ICU's per-call cost of bridging each string, and without loading ICU at all:
/// a daemon whose contracts need only those never maps ICU's data into memory.
final class ECMARegex: @unchecked Sendable {
    let source: String
    private enum Engine {
        case native(NativeRegex)
        // NSRegularExpression is documented as safe to use from several threads once built.
        case icu(NSRegularExpression)
    }
    private let engine: Engine
    /// The native engine's automaton, which `engine` keeps alive; read without copying the
    /// engine, whose arrays would each be retained and released on every call.
    private let ascii: Unmanaged<NativeRegex.ASCIIAutomaton>?

    init(_ source: String) throws(ContractError) {
        self.source = source
        if let native = NativeRegex(source) {
            engine = .native(native)
            ascii = native.ascii.map { Unmanaged.passUnretained($0) }
            return
        }
        ascii = nil
        do {
            engine = .icu(try NSRegularExpression(pattern: ECMARegex.translate(source)))
        } catch {
            throw ContractError("\"\(source)\" is not a valid regular expression")
        }
    }

    func matches(_ text: String) -> Bool {
        if let ascii,
            let answer = text.utf8.withContiguousStorageIfAvailable({ bytes in ascii._withUnsafeGuaranteedRef { $0.matches(bytes) } })
                ?? nil
        {
            return answer
        }
        return switch engine {
        case .native(let native): native.matches(text)
        case .icu(let regex): regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
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
