@testable import GatewayTestKit
import Testing

@Suite("The mock dataset")
struct MockDatasetTests {
    @Test("commune codes stay five digits and distinct at a bench's sizes, beyond every third code")
    func communeCodes() {
        let codes = MockDataset.sampleCommunes(60_000)
        #expect(codes.count == 60_000 && Set(codes).count == 60_000)
        #expect(codes.allSatisfy { $0.count == 5 && $0.allSatisfy(\.isNumber) })
        // The first ones are as they always were, so small datasets and their tests do not move.
        #expect(Array(codes.prefix(3)) == ["03646", "03649", "03652"])
    }
}
