import Foundation
import GatewayTestKit
import Testing

/// deploy/README.md and its Vietnamese version, deploy/README.vi.md, must not drift apart.
@Suite("The operator's guide in English and in Vietnamese")
struct OperatorGuideTests {
    static func text(_ name: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/\(name)"), encoding: .utf8)
    }

    /// The numbered sections (`## 3.`) and how many subsections each has.
    static func sections(_ text: String) -> [String] {
        var sections: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("## ") {
                sections.append(String(line.dropFirst(3).prefix { $0 != " " }))
            } else if line.hasPrefix("### "), let last = sections.popLast() {
                sections.append(last + "+")
            }
        }
        return sections
    }

    /// What an operator types: the lines of code blocks (indented four or more), comments taken
    /// off, and the commands written inline.
    static func commands(_ text: String) -> Set<String> {
        var commands = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix("    ") {
            var command = line.trimmingCharacters(in: .whitespaces)
            if command.hasPrefix("#") { continue }
            if let comment = command.range(of: " #") { command = String(command[..<comment.lowerBound]) }
            command = command.trimmingCharacters(in: .whitespaces)
            if !command.isEmpty { commands.insert(command) }
        }
        let inline = try! Regex(#"`((?:lgsp|lgsp-gateway|systemctl|apt|sudo|journalctl) [^`]+)`"#)
        for match in text.matches(of: inline) {
            // A command may be broken across two lines of the paragraph.
            let words = (match.output[1].substring ?? "").split(whereSeparator: \.isWhitespace)
            commands.insert(words.joined(separator: " "))
        }
        return commands
    }

    @Test("both have the same sections, subsections and commands")
    func sameSectionsAndCommands() throws {
        let english = try Self.text("README.md"), vietnamese = try Self.text("README.vi.md")
        #expect(Self.sections(english) == Self.sections(vietnamese), "\(Self.sections(english)) \(Self.sections(vietnamese))")
        #expect(Self.sections(english).count == 9)
        let (inEnglish, inVietnamese) = (Self.commands(english), Self.commands(vietnamese))
        #expect(inEnglish.count > 40)
        #expect(inEnglish.subtracting(inVietnamese).isEmpty, "only in README.md: \(inEnglish.subtracting(inVietnamese).sorted())")
        #expect(inVietnamese.subtracting(inEnglish).isEmpty, "only in README.vi.md: \(inVietnamese.subtracting(inEnglish).sorted())")
        // Vietnamese with its diacritics, not a copy of the English.
        for phrase in ["Cài đặt", "Thêm một bộ chuyển đổi", "Sao lưu và khôi phục", "Bảng điều khiển"] {
            #expect(vietnamese.contains(phrase), "\(phrase)")
        }
    }
}
