import Foundation

/// Pure work per item spread over every core. Mapping, checking and signing a large pull are
/// independent per record and per report, and ran on one core of two before.
public enum ParallelWork {
    /// `transform` over `items`, results in the items' order; one range per core.
    ///
    /// Each result is written once, into its place in memory the call owns, and the finished
    /// results are moved (not copied) into the array returned. Gathering per-core arrays and
    /// joining them copied every result, and each copy of an observation retains and releases
    /// each of its strings: with the copies the pull made after it, that was 6% of the pipeline.
    /// Inlinable so that callers get a version specialised to their types; a generic one moved
    /// every value through its type's witness table.
    @inlinable
    public static func map<Items: RandomAccessCollection & Sendable, Output: Sendable>(
        _ items: Items, _ transform: @escaping @Sendable (Items.Element) -> Output
    ) async -> [Output] where Items.Index == Int {
        guard let results = await fill(items, transform) else { return items.map(transform) }
        return results.moveOut()
    }

    /// `transform` over `items` as `map`, each result then handed to `receive` in the items'
    /// order and given up by the call: a caller sorting results into several arrays moves each
    /// once, where iterating an array of them copied each.
    @inlinable
    public static func map<Items: RandomAccessCollection & Sendable, Output: Sendable>(
        _ items: Items, _ transform: @escaping @Sendable (Items.Element) -> Output, receive: (consuming Output) -> Void
    ) async where Items.Index == Int {
        guard let results = await fill(items, transform) else {
            for item in items { receive(transform(item)) }
            return
        }
        results.moveOut(each: receive)
    }

    /// The results of `transform` over `items`, computed on every core; nil when there are too
    /// few items, or too few cores, for that to pay.
    @inlinable
    static func fill<Items: RandomAccessCollection & Sendable, Output: Sendable>(
        _ items: Items, _ transform: @escaping @Sendable (Items.Element) -> Output
    ) async -> ResultSlots<Output>? where Items.Index == Int {
        let count = items.count
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        guard count > 64, cores > 1 else { return nil }
        let results = ResultSlots<Output>(count: count)
        let chunk = (count + cores - 1) / cores
        await withTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: count, by: chunk) {
                let end = min(start + chunk, count)
                group.addTask {
                    for offset in start..<end { results.fill(offset, with: transform(items[items.startIndex + offset])) }
                }
            }
        }
        // The group has waited for every task, and each filled every slot of its range.
        return results
    }

    /// Uninitialized memory for `count` results, each slot filled by exactly one task. Sendable by
    /// that discipline: no two tasks touch the same slot, and nothing reads a slot until the task
    /// group that fills them has finished.
    @usableFromInline
    final class ResultSlots<Output>: @unchecked Sendable {
        @usableFromInline let slots: UnsafeMutablePointer<Output>
        @usableFromInline let count: Int
        @usableFromInline var movedOut = false

        @inlinable
        init(count: Int) {
            self.count = count
            slots = .allocate(capacity: count)
        }

        @inlinable
        func fill(_ position: Int, with value: consuming Output) {
            (slots + position).initialize(to: value)
        }

        /// Every slot, moved into an array; called once, when all are filled.
        @inlinable
        func moveOut() -> [Output] {
            precondition(!movedOut, "results moved out twice")
            movedOut = true
            return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
                buffer.baseAddress!.moveInitialize(from: slots, count: count)
                initialized = count
            }
        }

        /// Every slot, moved out in order to `receive`; called once, when all are filled.
        @inlinable
        func moveOut(each receive: (consuming Output) -> Void) {
            precondition(!movedOut, "results moved out twice")
            movedOut = true
            for position in 0..<count { receive((slots + position).move()) }
        }

        deinit {
            // Filled slots are moved out before this; a task group always finishes its tasks.
            if !movedOut { slots.deinitialize(count: count) }
            slots.deallocate()
        }
    }
}
