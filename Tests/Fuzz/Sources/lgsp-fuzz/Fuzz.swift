import Foundation
import FuzzDriver
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayHTTP
import GatewayJSON

/// The parsers the fuzzer drives, by the name `LGSP_FUZZ_TARGET` gives. One binary for all of
/// them: each would otherwise link the whole dependency graph again.
///
/// Besides not crashing, each checks what must hold of whatever it accepted, so that a parser
/// that accepts garbage quietly is found as well as one that traps.
enum FuzzTarget: String, CaseIterable {
    case json, csv, xml, number, period, units, yaml, retryAfter = "retry-after"

    static let chosen: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["LGSP_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("set LGSP_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }()

    static let environment = ConfigEnvironment(
        variables: ["LGSP_SOURCE_URL": "https://127.0.0.1:1"], hostCredentialsDirectory: "/nonexistent")
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        let data = Data(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .json:
            guard let value = try? JSONValue.parse(data) else { return }
            // What was accepted writes out canonically and reads back the same.
            guard let canonical = try? value.canonicalData() else { fatalError("an accepted document does not write out") }
            guard let again = try? JSONValue.parse(canonical), again == value else {
                fatalError("canonical JSON does not read back the same")
            }
        case .csv:
            for delimiter in [UInt8(ascii: ","), UInt8(ascii: ";")] {
                guard let table = try? CSVTable(parsing: data, format: CSVFormat(delimiter: delimiter)) else { continue }
                for (record, problem) in table.records() where problem == nil {
                    guard case .object = record else { fatalError("a CSV row without a problem is not an object") }
                }
            }
        case .xml:
            _ = try? XMLRecords.parse(Array(bytes))
        case .number:
            for format in NumberFormat.allCases {
                guard let parsed = NumberParsing.parse(text, format: format) else { continue }
                guard parsed.value.isFinite else { fatalError("a figure read as \(parsed.value)") }
                // Nothing but digits, signs, marks, an exponent, spaces and one percent sign is a figure.
                let allowed = Set("0123456789+-.,eE% \t\u{A0}")
                guard text.allSatisfy(allowed.contains) else { fatalError("\(text.debugDescription) was read as \(parsed.value)") }
            }
        case .period:
            guard let period = PeriodNormalizer.normalize(text) else { return }
            guard ReportingPeriod(period) != nil else { fatalError("\(text.debugDescription) normalised to \(period), not a period") }
        case .units:
            if let seconds = ConfigUnits.parseDurationSeconds(text) {
                guard seconds.isFinite, seconds >= 0 else { fatalError("duration \(text.debugDescription) read as \(seconds) s") }
                _ = Duration(clampingSeconds: seconds).configurationText
            }
            if let bytes = ConfigUnits.parseSize(text) {
                guard bytes.isFinite, bytes >= 0 else { fatalError("size \(text.debugDescription) read as \(bytes)") }
            }
            let reader = ConfigReader(file: "fuzz.yaml", text: "a:\n  t: \(text.debugDescription)\n", environment: Self.environment)
            _ = reader.root?["a"]?.duration("t", default: .seconds(1), range: .zero...(.seconds(86_400)))
            _ = reader.root?["a"]?.size("t", default: 1, range: 0...(1 << 40))
        case .yaml:
            // An adapter file as `check` reads it: every problem located, never a trap.
            do { _ = try AdapterLoader.definition(file: "fuzz.yaml", text: text, environment: Self.environment) } catch {
                for issue in error.issues where issue.file != "fuzz.yaml" { fatalError("an issue names another file: \(issue)") }
            }
        case .retryAfter:
            if let delay = RetryAfter.parse(text, now: Self.now) {
                guard delay >= .zero, delay <= .longest else { fatalError("Retry-After \(text.debugDescription) read as \(delay)") }
            }
            if let date = HTTPDate.parse(text, now: Self.now) {
                guard date.timeIntervalSince1970.isFinite else { fatalError("HTTP-date \(text.debugDescription) read as \(date)") }
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func lgspFuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.chosen.run(UnsafeBufferPointer(start: start, count: count))
    return 0
}
