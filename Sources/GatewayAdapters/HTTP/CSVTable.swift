import Foundation
import GatewayContracts
import GatewayJSON

/// How a source writes its CSV: the statistics office's exports use `;` (the decimal comma takes
/// `,`), a UTF-8 byte order mark, and a header row.
public struct CSVFormat: Sendable, Equatable {
    public var delimiter: UInt8
    /// The column names when the file has no header row; nil when its first row names them.
    public var columns: [String]?

    public init(delimiter: UInt8 = UInt8(ascii: ","), columns: [String]? = nil) {
        self.delimiter = delimiter
        self.columns = columns
    }
}

/// RFC 4180 text read into records: one JSON object per row, keyed by column name, every value a
/// string (the mapping converts numbers, Vietnamese decimal commas included).
public struct CSVTable: Sendable {
    public struct Row: Sendable {
        /// The physical line the row starts on, counting from 1 (the header is line 1).
        public let line: Int
        public let fields: [String]
    }

    public let columns: [String]
    public let rows: [Row]

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let line: Int?
        public let message: String
        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    public init(parsing data: Data, format: CSVFormat) throws(SyntaxError) {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            throw SyntaxError(line: nil, message: "the text is not UTF-8")
        }
        var records = try Self.records(bytes, delimiter: format.delimiter)
        if let columns = format.columns {
            self.columns = columns
        } else {
            guard !records.isEmpty else { throw SyntaxError(line: 1, message: "there is no header row") }
            let header = records.removeFirst()
            self.columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        var seen = Set<String>()
        for name in columns {
            if name.isEmpty { throw SyntaxError(line: format.columns == nil ? 1 : nil, message: "a column has no name") }
            if !seen.insert(name).inserted {
                throw SyntaxError(line: format.columns == nil ? 1 : nil, message: "the column \"\(name)\" appears twice")
            }
        }
        self.rows = records
    }

    /// Each row as a record keyed by column name, or, when its number of fields is not the number
    /// of columns, the row with the reason it cannot be read, so one broken row is quarantined and
    /// the rest go on.
    public func records() -> [(record: JSONValue, problem: QuarantineReason?)] {
        rows.map { row in
            guard row.fields.count == columns.count else {
                let raw = JSONValue.object(["line": .number(Double(row.line)), "fields": .array(row.fields.map(JSONValue.string))])
                return (
                    raw,
                    QuarantineReason(
                        pointer: "", rule: "mapping.csv-row",
                        message: "line \(row.line) has \(row.fields.count) fields, the header has \(columns.count)")
                )
            }
            var members = JSONObject()
            for (name, value) in zip(columns, row.fields) { members[name] = .string(value) }
            return (.object(members), nil)
        }
    }

    /// Splits the text into rows of fields: quoted fields may hold delimiters, line breaks and
    /// doubled quotes; empty lines are skipped; unquoted fields lose surrounding spaces.
    static func records(_ bytes: [UInt8], delimiter: UInt8) throws(SyntaxError) -> [Row] {
        let quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
        var rows: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var line = 1
        var rowLine = 1
        var index = 0
        var rowHasContent = false

        func finishField() {
            var text = String(decoding: field, as: UTF8.self)
            if !quoted, delimiter != UInt8(ascii: "\t") { text = text.trimmingCharacters(in: CharacterSet(charactersIn: " \t")) }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
            quoted = false
        }
        func finishRow() {
            if rowHasContent || !fields.isEmpty {
                finishField()
                // A line of spaces is an empty line too.
                if fields != [""] { rows.append(Row(line: rowLine, fields: fields)) }
            }
            fields = []
            rowHasContent = false
        }

        while index < bytes.count {
            let byte = bytes[index]
            if byte == quote, field.isEmpty, !quoted {
                // A quoted field: read to the closing quote.
                quoted = true
                rowHasContent = true
                let openedOn = line
                index += 1
                while true {
                    guard index < bytes.count else { throw SyntaxError(line: openedOn, message: "a quoted field is never closed") }
                    let inner = bytes[index]
                    if inner == quote {
                        if index + 1 < bytes.count, bytes[index + 1] == quote {
                            field.append(quote)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    if inner == newline { line += 1 }
                    field.append(inner)
                    index += 1
                }
                if index < bytes.count, bytes[index] != delimiter, bytes[index] != newline, bytes[index] != carriageReturn {
                    throw SyntaxError(line: line, message: "text after the closing quote of a field")
                }
                continue
            }
            switch byte {
            case delimiter:
                rowHasContent = true
                finishField()
            case newline, carriageReturn:
                finishRow()
                if byte == carriageReturn, index + 1 < bytes.count, bytes[index + 1] == newline { index += 1 }
                line += 1
                rowLine = line
            default:
                if quoted { throw SyntaxError(line: line, message: "text after the closing quote of a field") }
                rowHasContent = true
                field.append(byte)
            }
            index += 1
        }
        finishRow()
        return rows
    }
}
