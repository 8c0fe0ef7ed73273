import Foundation

/// One figure a province reports: an indicator for one area, at one level, for one period. The
/// centre keeps one current value per key (the highest revision), as DHIS2 keeps one data value
/// per data element, period and organisation unit.
public struct FigureKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let indicator: String
    public let province: String
    public let level: AdministrativeLevel
    public let area: String
    public let period: String
    /// Computed once, at init: a pull hashes each of its figures in several sets and dictionaries
    /// (and again each time one grows), and FNV over five strings each time was a visible share of
    /// deciding a pull's figures.
    public let stableHash: Int64

    public init(indicator: String, province: String, level: AdministrativeLevel, area: String, period: String) {
        self.indicator = indicator
        self.province = province
        self.level = level
        self.area = area
        self.period = period
        stableHash = Self.stableHash(indicator: indicator, province: province, level: level, area: area, period: period)
    }

    /// A key with the hash given rather than its own, so a test can make two keys share one.
    init(indicator: String, province: String, level: AdministrativeLevel, area: String, period: String, stableHash: Int64) {
        self.indicator = indicator
        self.province = province
        self.level = level
        self.area = area
        self.period = period
        self.stableHash = stableHash
    }

    /// `DVC_TOAN_TRINH/14/province/14/2025-Q3`: how logs and errors name a figure.
    public var description: String { "\(indicator)/\(province)/\(level.rawValue)/\(area)/\(period)" }

    /// Hashed by `stableHash` alone: hashing five strings with SipHash for each set and
    /// dictionary of a pull's figures was a visible share of a pull.
    public func hash(into hasher: inout Hasher) { hasher.combine(stableHash) }

    /// Every field compared, the hash first: two keys that differ almost always differ there.
    public static func == (a: FigureKey, b: FigureKey) -> Bool {
        a.stableHash == b.stableHash && a.indicator == b.indicator && a.province == b.province && a.level == b.level
            && a.area == b.area && a.period == b.period
    }

    public static func < (a: FigureKey, b: FigureKey) -> Bool {
        (a.indicator, a.province, a.level.rawValue, a.area, a.period) < (b.indicator, b.province, b.level.rawValue, b.area, b.period)
    }
}

/// What makes two values of one figure the same: a figure sent again with these equal is unchanged,
/// whatever its source record or collection time.
public struct FigureValue: Hashable, Sendable {
    public var value: Double
    public var numerator: Double?
    public var denominator: Double?
    public var unit: String

    public init(value: Double, numerator: Double? = nil, denominator: Double? = nil, unit: String) {
        self.value = value
        self.numerator = numerator
        self.denominator = denominator
        self.unit = unit
    }
}

extension Observation {
    public var figureKey: FigureKey {
        FigureKey(indicator: indicator, province: province, level: level, area: area, period: period)
    }

    public var figureValue: FigureValue {
        FigureValue(value: value, numerator: numerator, denominator: denominator, unit: unit)
    }

    /// `transform` of each observation's figure (key, revision, value), read field by field
    /// where the observation lies. `map(\.figureKey)` loaded a copy of every observation first,
    /// retaining and releasing its nine strings, to read five of them. Inlinable, so that it is
    /// specialized where it is called.
    @inlinable
    public static func mapFigures<T>(
        _ observations: ArraySlice<Observation>, _ transform: (FigureKey, _ revision: Int?, FigureValue) -> T
    ) -> [T] {
        observations.withUnsafeBufferPointer { buffer in
            (0..<buffer.count).map { index in
                transform(
                    FigureKey(
                        indicator: buffer[index].indicator, province: buffer[index].province, level: buffer[index].level,
                        area: buffer[index].area, period: buffer[index].period),
                    buffer[index].revision,
                    FigureValue(
                        value: buffer[index].value, numerator: buffer[index].numerator, denominator: buffer[index].denominator,
                        unit: buffer[index].unit))
            }
        }
    }
}

extension ContractSet {
    /// Whether reports of this version carry each observation's `revision` (1.2 and later).
    public var carriesRevisions: Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return false }
        return major > 1 || (major == 1 && parts.count > 1 && parts[1] >= 2)
    }
}

extension FigureKey {
    /// FNV-1a, 64 bits, over the key's fields with a unit separator between them: the same in
    /// every process and on every machine, so stores index figures by it. Two keys share it once
    /// in about 10^19 pairs; the stores compare the fields as well before trusting a match.
    static func stableHash(indicator: String, province: String, level: AdministrativeLevel, area: String, period: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        Self.add(indicator, to: &hash)
        Self.add(province, to: &hash)
        Self.add(level.rawValue, to: &hash)
        Self.add(area, to: &hash)
        Self.add(period, to: &hash)
        return Int64(bitPattern: hash)
    }

    @inline(__always)
    private static func add(_ text: String, to hash: inout UInt64) {
        var text = text
        text.withUTF8 { bytes in
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
        hash ^= 0x1F
        hash = hash &* 0x0000_0100_0000_01B3
    }
}
