import Foundation
import GRDB
@testable import GatewayStore
import Testing

@Suite("The SQLite store syncs every commit")
struct StoreDurabilityTests {
    @Test("the connection that writes runs with synchronous = FULL, readers too, after GRDB has set up WAL mode")
    func everyCommitIsSynced() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("durability-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path)
        // 2 is FULL; NORMAL (1) may lose the last commits on power loss, in WAL mode.
        #expect(try store.pool.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }
}
