import Foundation

/// Pure work per item spread over every core. Mapping, checking and signing a large pull are
/// independent per record and per report, and ran on one core of two before.
public enum ParallelWork {
    /// `transform` over `items`, results in the items' order; one slice per core.
    public static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], _ transform: @escaping @Sendable (Item) -> Output
    ) async -> [Output] {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard items.count > 64, cores > 1 else { return items.map(transform) }
        let chunk = (items.count + cores - 1) / cores
        return await withTaskGroup(of: (Int, [Output]).self) { group in
            for start in stride(from: 0, to: items.count, by: chunk) {
                let slice = Array(items[start..<min(start + chunk, items.count)])
                group.addTask { (start, slice.map(transform)) }
            }
            var parts: [(Int, [Output])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }
}
