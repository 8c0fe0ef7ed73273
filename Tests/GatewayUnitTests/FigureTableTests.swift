@testable import GatewayContracts
import Testing

@Suite("The figure table")
struct FigureTableTests {
    static func key(_ area: Int, period: String = "2025-Q3") -> FigureKey {
        FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: String(area), period: period)
    }

    @Test("finds every figure added, through many growths, and none it was not given")
    func growth() {
        var table = FigureTable<Int>()
        for area in 0..<20_000 {
            #expect(table.position(of: Self.key(area)) == nil)
            #expect(table.append(area * 10, for: Self.key(area)) == area)
        }
        #expect(table.count == 20_000)
        var found = 0
        for area in 0..<20_000 where table[Self.key(area)] == area * 10 { found += 1 }
        #expect(found == 20_000)
        #expect(table[Self.key(20_000)] == nil && table[Self.key(5, period: "2025-Q4")] == nil)
        #expect(table.keys.prefix(3) == [Self.key(0), Self.key(1), Self.key(2)])
    }

    @Test("a value changes in place at its position")
    func changeInPlace() throws {
        var table = FigureTable<[Int]>()
        table.append([1], for: Self.key(1))
        let position = try #require(table.position(of: Self.key(1)))
        table[position: position].append(2)
        #expect(table[Self.key(1)] == [1, 2] && table.values == [[1, 2]])
    }

    @Test("two figures of one stable hash stay two: the fields decide")
    func sharedHash() {
        func colliding(_ area: String) -> FigureKey {
            FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2025-Q3", stableHash: 42)
        }
        var table = FigureTable<String>()
        table.append("first", for: colliding("03646"))
        #expect(table[colliding("03649")] == nil)
        table.append("second", for: colliding("03649"))
        #expect(table[colliding("03646")] == "first" && table[colliding("03649")] == "second" && table.count == 2)
        #expect(colliding("03646") != colliding("03649") && colliding("03646") == colliding("03646"))
    }
}
