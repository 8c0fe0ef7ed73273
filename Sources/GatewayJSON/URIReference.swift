/// RFC 3986 URI references: splitting, resolution against a base (section 5.2), and the
/// syntax checks behind the `uri` and `uri-reference` formats.
///
/// Written out rather than taken from Foundation's `URL`, whose resolution and acceptance differ
/// between platforms and from the RFC (URNs, empty paths, dot segments), and schema identifiers
/// must resolve the same way everywhere.
struct URIReference: Equatable {
    var scheme: String?
    var authority: String?
    var path: String
    var query: String?
    var fragment: String?

    /// Splits `text` the way RFC 3986 appendix B does; every string splits.
    init(_ text: String) {
        var rest = Substring(text)
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if let colon = rest.firstIndex(of: ":"), !rest[..<colon].isEmpty, !rest[..<colon].contains(where: { "/?#".contains($0) }) {
            scheme = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.index(rest.startIndex, offsetBy: 2)
            let end = rest[afterSlashes...].firstIndex(of: "/") ?? rest.endIndex
            authority = String(rest[afterSlashes..<end])
            rest = rest[end...]
        }
        path = String(rest)
    }

    init(scheme: String?, authority: String?, path: String, query: String?, fragment: String?) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.fragment = fragment
    }

    var text: String {
        var result = ""
        if let scheme { result += scheme + ":" }
        if let authority { result += "//" + authority }
        result += path
        if let query { result += "?" + query }
        if let fragment { result += "#" + fragment }
        return result
    }

    /// `reference` resolved against `base` (RFC 3986 section 5.2.2, strict).
    static func resolve(_ reference: String, against base: String) -> String {
        let r = URIReference(reference)
        if r.scheme != nil {
            return URIReference(
                scheme: r.scheme, authority: r.authority, path: removeDotSegments(r.path), query: r.query, fragment: r.fragment
            ).text
        }
        let b = URIReference(base)
        var target = URIReference(scheme: b.scheme, authority: nil, path: "", query: nil, fragment: r.fragment)
        if r.authority != nil {
            target.authority = r.authority
            target.path = removeDotSegments(r.path)
            target.query = r.query
        } else {
            target.authority = b.authority
            if r.path.isEmpty {
                target.path = b.path
                target.query = r.query ?? b.query
            } else {
                if r.path.hasPrefix("/") {
                    target.path = removeDotSegments(r.path)
                } else if b.authority != nil && b.path.isEmpty {
                    target.path = removeDotSegments("/" + r.path)
                } else if let slash = b.path.lastIndex(of: "/") {
                    target.path = removeDotSegments(String(b.path[...slash]) + r.path)
                } else {
                    target.path = removeDotSegments(r.path)
                }
                target.query = r.query
            }
        }
        return target.text
    }

    /// RFC 3986 section 5.2.4.
    static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var input = Substring(path)
        var output: [Substring] = []
        while !input.isEmpty {
            if input.hasPrefix("../") {
                input = input.dropFirst(3)
            } else if input.hasPrefix("./") {
                input = input.dropFirst(2)
            } else if input.hasPrefix("/./") {
                input = input.dropFirst(2)
            } else if input == "/." {
                input = "/"
            } else if input.hasPrefix("/../") {
                input = input.dropFirst(3)
                if !output.isEmpty { output.removeLast() }
            } else if input == "/.." {
                input = "/"
                if !output.isEmpty { output.removeLast() }
            } else if input == "." || input == ".." {
                input = ""
            } else {
                let start = input.hasPrefix("/") ? input.index(after: input.startIndex) : input.startIndex
                let end = input[start...].firstIndex(of: "/") ?? input.endIndex
                output.append(input[..<end])
                input = input[end...]
            }
        }
        return output.joined()
    }
}

extension String {
    /// This URI without its fragment.
    var withoutFragment: String {
        if let hash = firstIndex(of: "#") { return String(self[..<hash]) }
        return self
    }
}

/// The grammar of RFC 3986, for format assertions. ASCII only, as the RFC is; IRIs are other formats.
enum URISyntax {
    private static func isUnreserved(_ c: UInt8) -> Bool {
        isAlpha(c) || isDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
    }
    private static func isSubDelimiter(_ c: UInt8) -> Bool { "!$&'()*+,;=".utf8.contains(c) }
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f")) }

    /// Whether every character is unreserved, percent-encoded, a sub-delimiter or one of `extra`.
    private static func consists(_ text: Substring, allowing extra: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else { return false }
                index += 3
                continue
            }
            guard isUnreserved(c) || isSubDelimiter(c) || extra.utf8.contains(c) else { return false }
            index += 1
        }
        return true
    }

    private static func isScheme(_ text: String) -> Bool {
        guard let first = text.utf8.first, isAlpha(first) else { return false }
        return text.utf8.allSatisfy {
            isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    private static func isAuthority(_ text: String) -> Bool {
        var hostAndPort = Substring(text)
        if let at = text.lastIndex(of: "@") {
            guard consists(text[..<at], allowing: ":") else { return false }
            hostAndPort = text[text.index(after: at)...]
        }
        var host = hostAndPort
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else { return false }
            let literal = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
            guard IPAddressSyntax.isIPv6(literal) || isIPvFuture(literal) else { return false }
            let afterLiteral = hostAndPort[hostAndPort.index(after: close)...]
            if afterLiteral.isEmpty { return true }
            guard afterLiteral.hasPrefix(":") else { return false }
            return afterLiteral.dropFirst().utf8.allSatisfy(isDigit)
        }
        if let colon = hostAndPort.lastIndex(of: ":") {
            guard hostAndPort[hostAndPort.index(after: colon)...].utf8.allSatisfy(isDigit) else { return false }
            host = hostAndPort[..<colon]
        }
        return consists(host, allowing: "")
    }

    private static func isIPvFuture(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count > 1, parts[0].first == "v" || parts[0].first == "V",
            parts[0].dropFirst().utf8.allSatisfy(isHex), !parts[1].isEmpty
        else { return false }
        return parts[1].utf8.allSatisfy { isUnreserved($0) || isSubDelimiter($0) || $0 == UInt8(ascii: ":") }
    }

    private static func isValid(_ reference: URIReference, text: String) -> Bool {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return false }
        if let scheme = reference.scheme, !isScheme(scheme) { return false }
        if let authority = reference.authority {
            guard isAuthority(authority) else { return false }
            guard reference.path.isEmpty || reference.path.hasPrefix("/") else { return false }
        }
        guard consists(Substring(reference.path), allowing: ":@/") else { return false }
        if reference.scheme == nil, reference.authority == nil,
            let firstSegment = reference.path.split(separator: "/", omittingEmptySubsequences: false).first, firstSegment.contains(":")
        {
            return false
        }
        if let query = reference.query, !consists(Substring(query), allowing: ":@/?") { return false }
        if let fragment = reference.fragment, !consists(Substring(fragment), allowing: ":@/?") { return false }
        return true
    }

    /// An absolute URI with a scheme (`uri`).
    static func isURI(_ text: String) -> Bool {
        let reference = URIReference(text)
        return reference.scheme != nil && isValid(reference, text: text)
    }

    /// A URI or a relative reference (`uri-reference`).
    static func isURIReference(_ text: String) -> Bool {
        isValid(URIReference(text), text: text)
    }
}
