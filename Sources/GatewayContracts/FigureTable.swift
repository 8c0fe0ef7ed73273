/// Values by figure, found through each key's `stableHash` (computed once, when the key was made)
/// in an open-addressed table of hashes and positions; keys and values stay in arrays of their own.
///
/// A pull decides each of its figures against the ones it met before, and the mock centre keeps
/// every figure it receives: a `Dictionary` keyed by `FigureKey` put SipHash over the stable hash
/// on every lookup and insertion, and again over every key each time it grew, moving every key
/// and value to a new table; that was most of the cost of deciding a pull's figures. Here growth
/// moves sixteen bytes a figure, and a lookup touches a key only when its whole hash matches.
/// Inlinable, so that each module that uses it gets it specialized for its values: called
/// through generic witnesses, it cost more than the dictionary it replaced.
public struct FigureTable<Value> {
    @usableFromInline var storedKeys: [FigureKey] = []
    @usableFromInline var storedValues: [Value] = []
    @usableFromInline var slots: [Slot]
    /// `64 - log2(slots.count)`: a slot is the top bits of the hash, multiplied to spread it.
    @usableFromInline var shift: UInt64

    @usableFromInline struct Slot: Sendable {
        @usableFromInline var hash: Int64
        /// The figure's position in `keys` plus one; 0 for an empty slot.
        @usableFromInline var position: UInt32

        @inlinable init(hash: Int64, position: UInt32) {
            self.hash = hash
            self.position = position
        }
    }

    /// Sixteen slots to start with (`shift` 60), doubled as it fills past half.
    @inlinable
    public init() {
        slots = Array(repeating: Slot(hash: 0, position: 0), count: 16)
        shift = 60
    }

    /// The keys in the order they were added, and their values at the same positions.
    @inlinable public var keys: [FigureKey] { storedKeys }
    @inlinable public var values: [Value] { storedValues }

    @inlinable public var count: Int { storedKeys.count }

    /// Fibonacci hashing: FNV-1a leaves keys that differ only in their last characters (communes,
    /// periods) close together, and the multiplication spreads them over the table.
    @inlinable @inline(__always)
    func firstSlot(of hash: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: hash) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Where `key` is in `keys` and `values`, if the table holds it.
    @inlinable
    public func position(of key: FigureKey) -> Int? {
        let mask = slots.count - 1
        var slot = firstSlot(of: key.stableHash)
        while true {
            let entry = slots[slot]
            if entry.position == 0 { return nil }
            if entry.hash == key.stableHash, storedKeys[Int(entry.position) - 1] == key { return Int(entry.position) - 1 }
            slot = (slot + 1) & mask
        }
    }

    @inlinable
    public subscript(key: FigureKey) -> Value? {
        position(of: key).map { storedValues[$0] }
    }

    /// The value at `position` (from `position(of:)` or `append`), changed in place.
    @inlinable
    public subscript(position position: Int) -> Value {
        get { storedValues[position] }
        _modify { yield &storedValues[position] }
    }

    /// Adds `key`, which the table must not hold yet, with `value`; returns its position.
    @inlinable @discardableResult
    public mutating func append(_ value: Value, for key: FigureKey) -> Int {
        precondition(storedKeys.count < Int(UInt32.max), "a figure table holds fewer than 2^32 figures")
        if (storedKeys.count + 1) * 2 > slots.count { grow() }
        let position = storedKeys.count
        storedKeys.append(key)
        storedValues.append(value)
        place(Slot(hash: key.stableHash, position: UInt32(position + 1)))
        return position
    }

    @inlinable
    mutating func place(_ entry: Slot) {
        let mask = slots.count - 1
        var slot = firstSlot(of: entry.hash)
        while slots[slot].position != 0 { slot = (slot + 1) & mask }
        slots[slot] = entry
    }

    /// Twice the slots, each figure placed again from the hash its slot kept: no key is read.
    @inlinable
    mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(hash: 0, position: 0), count: old.count * 2)
        shift -= 1
        for entry in old where entry.position != 0 { place(entry) }
    }
}

extension FigureTable: Sendable where Value: Sendable {}
