import Foundation

/// The `format` keyword's checks. `nil` means the format is not one this validator knows, which
/// the specification says to let pass rather than fail.
enum Formats {
    static func check(_ format: String, _ text: String) -> Bool? {
        switch format {
        case "date": return DateTimeSyntax.isDate(Array(text.utf8)[...])
        case "time": return DateTimeSyntax.isTime(Array(text.utf8)[...])
        case "date-time": return DateTimeSyntax.isDateTime(text)
        case "duration": return DateTimeSyntax.isDuration(text)
        case "email": return EmailSyntax.isEmail(text)
        case "hostname": return HostnameSyntax.isHostname(Substring(text))
        case "ipv4": return IPAddressSyntax.isIPv4(Substring(text))
        case "ipv6": return IPAddressSyntax.isIPv6(Substring(text))
        case "uri": return URISyntax.isURI(text)
        case "uri-reference": return URISyntax.isURIReference(text)
        case "uuid": return isUUID(text)
        case "regex": return (try? ECMARegex(text)) != nil
        case "json-pointer": return (try? JSONPointer(parsing: text)) != nil && isPointerEscaping(Substring(text))
        case "relative-json-pointer": return isRelativePointer(text)
        default: return nil
        }
    }

    /// 8-4-4-4-12 hexadecimal digits; any version and variant (RFC 9562 allows them all).
    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !URISyntax.isHex(byte) {
                return false
            }
        }
        return true
    }

    /// `~` must be followed by 0 or 1.
    private static func isPointerEscaping(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "~") {
            guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "0") || bytes[index + 1] == UInt8(ascii: "1") else {
                return false
            }
        }
        return true
    }

    private static func isRelativePointer(_ text: String) -> Bool {
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits == "0" || !digits.hasPrefix("0") else { return false }
        var rest = text.dropFirst(digits.count)
        if rest == "#" { return true }
        if rest.hasPrefix("+") || rest.hasPrefix("-") {
            let offset = rest.dropFirst().prefix(while: { $0.isASCII && $0.isNumber })
            guard !offset.isEmpty, !offset.hasPrefix("0") else { return false }
            rest = rest.dropFirst(1 + offset.count)
        }
        return rest.isEmpty || (rest.hasPrefix("/") && isPointerEscaping(rest))
    }
}

/// RFC 3339 section 5.6, with the case-insensitive `T` and `Z` it allows and leap seconds.
enum DateTimeSyntax {
    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.allSatisfy(URISyntax.isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isDate(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == 10 else { return false }
        let start = bytes.startIndex
        guard bytes[start + 4] == UInt8(ascii: "-"), bytes[start + 7] == UInt8(ascii: "-"),
            let year = number(bytes[start..<start + 4]), let month = number(bytes[start + 5..<start + 7]),
            let day = number(bytes[start + 8..<start + 10]),
            (1...12).contains(month)
        else { return false }
        return (1...daysIn(month: month, year: year)).contains(day)
    }

    /// `full-time`: `HH:MM:SS[.frac](Z|±HH:MM)`; second 60 only where the UTC time is 23:59.
    static func isTime(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count >= 9 else { return false }
        let s = bytes.startIndex
        guard bytes[s + 2] == UInt8(ascii: ":"), bytes[s + 5] == UInt8(ascii: ":"),
            let hour = number(bytes[s..<s + 2]), let minute = number(bytes[s + 3..<s + 5]),
            let second = number(bytes[s + 6..<s + 8]),
            hour < 24, minute < 60, second <= 60
        else { return false }
        var index = s + 8
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.endIndex, URISyntax.isDigit(bytes[index]) { index += 1 }
            guard index > fractionStart else { return false }
        }
        guard index < bytes.endIndex else { return false }
        var offsetMinutes = 0
        if bytes[index] | 0x20 == UInt8(ascii: "z") {
            guard index + 1 == bytes.endIndex else { return false }
        } else {
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), bytes.endIndex - index == 6,
                bytes[index + 3] == UInt8(ascii: ":"),
                let offsetHour = number(bytes[index + 1..<index + 3]), let offsetMinute = number(bytes[index + 4..<index + 6]),
                offsetHour < 24, offsetMinute < 60
            else { return false }
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
        }
        if second == 60 {
            let utcMinutes = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utcMinutes == 23 * 60 + 59
        }
        return true
    }

    static func isDateTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count > 11, bytes[10] | 0x20 == UInt8(ascii: "t") else { return false }
        return isDate(bytes[0..<10]) && isTime(bytes[11...])
    }

    /// RFC 3339 appendix A: `P` then weeks alone, or date parts in Y-M-D order and/or `T` with H-M-S.
    static func isDuration(_ text: String) -> Bool {
        var rest = Substring(text)
        guard rest.first == "P" else { return false }
        rest = rest.dropFirst()
        guard !rest.isEmpty else { return false }
        func units(_ part: Substring, order: [Character]) -> Bool {
            guard !part.isEmpty else { return false }
            var remaining = order[...]
            var digits = 0
            var previousWasUnit = true
            for character in part {
                if character.isASCII, character.isNumber {
                    digits += 1
                    previousWasUnit = false
                } else {
                    guard digits > 0, let position = remaining.firstIndex(of: character) else { return false }
                    remaining = remaining[(position + 1)...]
                    digits = 0
                    previousWasUnit = true
                }
            }
            return previousWasUnit
        }
        if rest.last == "W" { return units(rest, order: ["W"]) }
        let parts = rest.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            return (parts[0].isEmpty || units(parts[0], order: ["Y", "M", "D"])) && units(parts[1], order: ["H", "M", "S"])
        }
        return units(rest, order: ["Y", "M", "D"])
    }
}

enum IPAddressSyntax {
    /// Dotted decimal without leading zeros, ASCII digits only.
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy(URISyntax.isDigit) else { return false }
            guard part == "0" || !part.hasPrefix("0") else { return false }
            return Int(part)! <= 255
        }
    }

    /// RFC 4291 section 2.2 text forms, with at most one `::` and an optional trailing IPv4 address.
    static func isIPv6(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 45 else { return false }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ part: String, allowIPv4: Bool) -> Int? {
            if part.isEmpty { return 0 }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (index, piece) in pieces.enumerated() {
                if allowIPv4, index == pieces.count - 1, piece.contains(".") {
                    guard isIPv4(piece) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy(URISyntax.isHex) else { return nil }
                    count += 1
                }
            }
            return count
        }
        if halves.count == 1 {
            return groups(halves[0], allowIPv4: true) == 8
        }
        guard let head = groups(halves[0], allowIPv4: false), let tail = groups(halves[1], allowIPv4: true) else { return false }
        return head + tail <= 7
    }
}

enum HostnameSyntax {
    /// RFC 1123 labels: letters, digits and inner hyphens, 1–63 each, 253 in all; one trailing dot allowed.
    static func isHostname(_ text: Substring) -> Bool {
        var name = text
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            // "xn--" labels are Punycode; other labels must not have hyphens in both the 3rd and 4th place.
            let bytes = Array(label.utf8)
            if bytes.count >= 4, bytes[2] == UInt8(ascii: "-"), bytes[3] == UInt8(ascii: "-"), !label.lowercased().hasPrefix("xn--") {
                return false
            }
            return label.utf8.allSatisfy { URISyntax.isAlpha($0) || URISyntax.isDigit($0) || $0 == UInt8(ascii: "-") }
        }
    }
}

/// RFC 5321 section 4.1.2 mailboxes: a dot-atom or quoted local part, and a domain name or an
/// address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
enum EmailSyntax {
    private static let atomCharacters = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    static func isEmail(_ text: String) -> Bool {
        guard let at = text.lastIndex(of: "@") else { return false }
        let local = text[..<at]
        let domain = text[text.index(after: at)...]
        return isLocalPart(local) && isDomain(domain)
    }

    private static func isLocalPart(_ local: Substring) -> Bool {
        guard !local.isEmpty, local.utf8.count <= 64 else { return false }
        if local.hasPrefix("\"") {
            guard local.count >= 2, local.hasSuffix("\"") else { return false }
            var escaped = false
            for byte in local.utf8.dropFirst().dropLast() {
                if escaped {
                    guard byte >= 0x20, byte < 0x7F else { return false }
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else {
                    guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\"") else { return false }
                }
            }
            return !escaped
        }
        return local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.utf8.allSatisfy { URISyntax.isAlpha($0) || URISyntax.isDigit($0) || atomCharacters.contains($0) }
        }
    }

    private static func isDomain(_ domain: Substring) -> Bool {
        if domain.hasPrefix("["), domain.hasSuffix("]") {
            let literal = domain.dropFirst().dropLast()
            if literal.hasPrefix("IPv6:") { return IPAddressSyntax.isIPv6(literal.dropFirst(5)) }
            return IPAddressSyntax.isIPv4(literal)
        }
        return HostnameSyntax.isHostname(domain)
    }
}
