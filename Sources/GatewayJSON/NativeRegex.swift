/// A matcher for the part of ECMA-262 regular expressions that data contracts use: literals, `.`,
/// classes (with ranges, negation and `\d \w \s \D \W \S`), groups `( )` and `(?: )`, alternation,
/// greedy and lazy quantifiers, and `^` `$` without the multiline flag. Matching is by Unicode code
/// point, as with ECMA-262's `u` flag. `init` returns nil for anything else (backreferences,
/// lookaround, `\b`, `\p{…}`), which is left to ICU.
///
/// Only whether a match exists is asked, so the pattern is compiled to a program for a Thompson
/// (Pike) machine: every alternative advances together, one code point at a time, in time linear
/// in the text whatever the pattern, with no backtracking to blow up; greedy and lazy quantifiers
/// give the same answer and captures are not kept.
struct NativeRegex: Sendable {
    struct CharacterSet: Sendable {
        var ranges: [ClosedRange<UInt32>]
        var negated: Bool
        /// Membership of the 128 ASCII code points, negation applied.
        var ascii: (UInt64, UInt64) = (0, 0)

        init(ranges: [ClosedRange<UInt32>], negated: Bool) {
            self.ranges = ranges
            self.negated = negated
            for code in 0..<128 where Self.contains(UInt32(code), ranges) != negated {
                if code < 64 { ascii.0 |= 1 << UInt64(code) } else { ascii.1 |= 1 << UInt64(code - 64) }
            }
        }

        private static func contains(_ code: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
            ranges.contains { $0.contains(code) }
        }

        func contains(_ code: UInt32) -> Bool {
            if code < 64 { return ascii.0 & (1 << UInt64(code)) != 0 }
            if code < 128 { return ascii.1 & (1 << UInt64(code - 64)) != 0 }
            return Self.contains(code, ranges) != negated
        }
    }

    indirect enum Node: Sendable {
        case set(CharacterSet)
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int)
        case start, end
    }

    enum Instruction: Sendable {
        case set(CharacterSet)
        /// Continue at both targets.
        case split(Int, Int)
        case jump(Int)
        case start, end
        case match
    }

    let program: [Instruction]
    let anchoredAtStart: Bool
    /// The same program as a deterministic automaton over ASCII, for texts that are all ASCII (codes,
    /// dates, identifiers): one table lookup per byte instead of a set of threads per code point.
    let ascii: ASCIIAutomaton?

    static let digits: [ClosedRange<UInt32>] = [48...57]
    static let word: [ClosedRange<UInt32>] = [48...57, 65...90, 95...95, 97...122]
    static let space: [ClosedRange<UInt32>] = [
        9...13, 32...32, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F,
        0x3000...0x3000, 0xFEFF...0xFEFF,
    ]
    /// `.`: anything but line terminators.
    static let dot = CharacterSet(ranges: [10...10, 13...13, 0x2028...0x2029], negated: true)
    /// Counted repetitions are unrolled; beyond this the pattern is left to ICU.
    static let maximumProgram = 4_096

    init?(_ pattern: String) {
        var parser = Parser(scalars: Array(pattern.unicodeScalars))
        guard let node = parser.alternation(), parser.index == parser.scalars.count else { return nil }
        var program: [Instruction] = []
        guard Self.emit(node, into: &program) else { return nil }
        program.append(.match)
        self.program = program
        if case .sequence(let items) = node, case .start = items.first {
            anchoredAtStart = true
        } else {
            anchoredAtStart = false
        }
        ascii = ASCIIAutomaton(program: program, anchoredAtStart: anchoredAtStart, node: node)
    }

    private static func emit(_ node: Node, into program: inout [Instruction]) -> Bool {
        guard program.count < maximumProgram else { return false }
        switch node {
        case .set(let set): program.append(.set(set))
        case .start: program.append(.start)
        case .end: program.append(.end)
        case .sequence(let items):
            for item in items where !emit(item, into: &program) { return false }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (index, branch) in branches.enumerated() {
                if index < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, -1))
                    guard emit(branch, into: &program) else { return false }
                    jumps.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                } else {
                    guard emit(branch, into: &program) else { return false }
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repetition(let item, let minimum, let maximum):
            for _ in 0..<minimum where !emit(item, into: &program) { return false }
            if maximum == .max {
                let loop = program.count
                program.append(.split(loop + 1, -1))
                guard emit(item, into: &program) else { return false }
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            } else if maximum > minimum {
                var splits: [Int] = []
                for _ in minimum..<maximum {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, -1))
                    guard emit(item, into: &program) else { return false }
                }
                for split in splits { program[split] = .split(split + 1, program.count) }
            }
        }
        return program.count < maximumProgram
    }

    func matches(_ text: String) -> Bool {
        var text = text
        let count = program.count
        return text.withUTF8 { bytes in
            if let ascii, let answer = ascii.matches(bytes) { return answer }
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * count) { storage in
                storage.initialize(repeating: 0)
                var current = ThreadList(dense: storage.baseAddress!, sparse: storage.baseAddress! + count)
                var next = ThreadList(dense: storage.baseAddress! + 2 * count, sparse: storage.baseAddress! + 3 * count)
                let end = bytes.count
                if add(0, at: 0, end: end, to: &current) { return true }
                var position = 0
                while position < end {
                    let (code, length) = Self.scalar(in: bytes, at: position)
                    next.removeAll()
                    let after = position + length
                    for slot in 0..<current.count {
                        let pc = current.dense[slot]
                        if case .set(let set) = program[pc], set.contains(code), add(pc + 1, at: after, end: end, to: &next) {
                            return true
                        }
                    }
                    // Not anchored: a match may also start at the next code point.
                    if !anchoredAtStart, add(0, at: after, end: end, to: &next) { return true }
                    if next.count == 0 { return false }
                    swap(&current, &next)
                    position = after
                }
                return false
            }
        }
    }

    /// The subset construction of the program, restricted to ASCII texts and built when the
    /// pattern is compiled (the validator is shared between tasks, so nothing is built lazily).
    /// Bytes that every instruction treats alike share a column of the table.
    final class ASCIIAutomaton: Sendable {
        /// Column of each ASCII byte.
        let byteClass: [UInt8]
        let classCount: Int
        /// `transitions[row + class]`: the next state's row (its number times `classCount`), `dead` or
        /// `accepted`. Rows rather than state numbers, so that each byte's step is an add and a load:
        /// the steps depend on one another, and a multiply in between made them a third slower.
        let transitions: [Int32]
        /// Whether the text may end in each state.
        let acceptsAtEnd: [Bool]
        let initialAccepts: Bool

        static let dead: Int32 = -1
        static let accepted: Int32 = -2
        /// Beyond this many states (long counted repetitions) the thread machine is used instead.
        static let maximumStates = 512

        /// The faster form of this automaton's patterns that are one run of classes; nil for others.
        /// It lives in the automaton, whose tables are then empty, so that `ECMARegex` reaches either
        /// matcher through the one unretained reference it keeps on the hot path.
        let run: ClassRun?

        init?(program: [Instruction], anchoredAtStart: Bool, node: Node) {
            if let run = ClassRun(node) {
                self.run = run
                (byteClass, classCount, transitions, acceptsAtEnd, initialAccepts) = ([], 0, [], [], false)
                return
            }
            run = nil
            var signatures: [[Bool]: UInt8] = [:]
            var byteClass = [UInt8](repeating: 0, count: 128)
            let sets = program.compactMap { instruction -> CharacterSet? in if case .set(let set) = instruction { set } else { nil } }
            for byte in 0..<128 {
                let signature = sets.map { $0.contains(UInt32(byte)) }
                if let existing = signatures[signature] {
                    byteClass[byte] = existing
                } else {
                    byteClass[byte] = UInt8(signatures.count)
                    signatures[signature] = UInt8(signatures.count)
                }
            }
            let classCount = signatures.count
            let representatives = (0..<classCount).map { column in UInt32(byteClass.firstIndex(of: UInt8(column))!) }

            /// The instructions reachable from `seeds` without reading, and whether `match` is among them.
            func closure(_ seeds: [Int], atStart: Bool, atEnd: Bool) -> (threads: [Int], matched: Bool) {
                var seen = Set<Int>()
                var threads: [Int] = []
                var stack = seeds.reversed() as [Int]
                while let pc = stack.popLast() {
                    guard seen.insert(pc).inserted else { continue }
                    switch program[pc] {
                    case .match: return ([], true)
                    case .jump(let target): stack.append(target)
                    case .split(let first, let second): stack.append(second); stack.append(first)
                    case .start: if atStart { stack.append(pc + 1) }
                    case .end: if atEnd { stack.append(pc + 1) } else { threads.append(pc) }
                    case .set: threads.append(pc)
                    }
                }
                return (threads.sorted(), false)
            }
            let start = closure([0], atStart: true, atEnd: false)
            initialAccepts = start.matched
            var states: [[Int]] = [start.threads]
            var index: [[Int]: Int16] = [start.threads: 0]
            var acceptsAtEnd = [closure([0], atStart: true, atEnd: true).matched]
            var transitions: [Int16] = []
            var state = 0
            while state < states.count {
                for code in representatives {
                    var seeds: [Int] = []
                    for pc in states[state] {
                        if case .set(let set) = program[pc], set.contains(code) { seeds.append(pc + 1) }
                    }
                    if !anchoredAtStart { seeds.append(0) }
                    let next = closure(seeds, atStart: false, atEnd: false)
                    if next.matched {
                        transitions.append(Int16(Self.accepted))
                    } else if next.threads.isEmpty {
                        transitions.append(Int16(Self.dead))
                    } else if let known = index[next.threads] {
                        transitions.append(known)
                    } else {
                        guard states.count < Self.maximumStates else { return nil }
                        index[next.threads] = Int16(states.count)
                        transitions.append(Int16(states.count))
                        states.append(next.threads)
                        acceptsAtEnd.append(
                            closure(
                                next.threads.filter { if case .end = program[$0] { true } else { false } },
                                atStart: false, atEnd: true
                            ).matched)
                    }
                }
                state += 1
            }
            self.byteClass = byteClass
            self.classCount = classCount
            self.transitions = transitions.map { $0 < 0 ? Int32($0) : Int32($0) * Int32(classCount) }
            self.acceptsAtEnd = acceptsAtEnd
        }

        /// nil when the text is not all ASCII.
        func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
            if let run { return run.matches(bytes) }
            if initialAccepts { return true }
            var row = 0
            for byte in bytes {
                guard byte < 0x80 else { return nil }
                let next = transitions[row &+ Int(byteClass[Int(byte)])]
                if next < 0 {
                    if next == Self.accepted { return true }
                    // No thread left; a later non-ASCII byte could not revive one either.
                    return false
                }
                row = Int(next)
            }
            return acceptsAtEnd[row / classCount]
        }
    }

    /// A pattern that is one run of ASCII classes anchored at both ends, every class a fixed number
    /// of times but at most one (`^[0-9]{2,5}$`, `^[A-Z][A-Z0-9_]{1,63}$`, a UUID's, `^[a-z.-]+$`).
    /// On ASCII text the length alone says which class each byte must be in, so every byte is a bit
    /// test independent of the others, where each step of the automaton waits for the one before.
    struct ClassRun: Sendable {
        /// Membership of the 128 ASCII code points, as `CharacterSet.ascii`.
        typealias Members = (UInt64, UInt64)
        let leading: [Members]
        let repeated: Members
        let minimumRepeats: Int
        let maximumRepeats: Int
        let trailing: [Members]

        init?(_ node: Node) {
            guard case .sequence(let items) = node, items.count >= 2, case .start = items.first!, case .end = items.last! else {
                return nil
            }
            var leading: [Members] = [], trailing: [Members] = []
            var repeated: (members: Members, minimum: Int, maximum: Int)?
            func add(_ node: Node) -> Bool {
                switch node {
                case .set(let set):
                    if repeated == nil { leading.append(set.ascii) } else { trailing.append(set.ascii) }
                    return true
                case .repetition(.set(let set), let minimum, let maximum) where minimum == maximum:
                    for _ in 0..<minimum { _ = add(.set(set)) }
                    return true
                case .repetition(.set(let set), let minimum, let maximum):
                    guard repeated == nil else { return false }
                    repeated = (set.ascii, minimum, maximum)
                    return true
                case .sequence(let inner):
                    return inner.allSatisfy(add)
                default:
                    return false
                }
            }
            for item in items.dropFirst().dropLast() where !add(item) { return nil }
            guard leading.count + trailing.count <= ASCIIAutomaton.maximumStates else { return nil }
            self.leading = leading
            self.trailing = trailing
            (self.repeated, minimumRepeats, maximumRepeats) = repeated.map { ($0.members, $0.minimum, $0.maximum) } ?? ((0, 0), 0, 0)
        }

        /// nil when the text is not all ASCII: its length in code points is then not its byte count.
        func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
            var any: UInt8 = 0
            for byte in bytes { any |= byte }
            guard any < 0x80 else { return nil }
            let repeats = bytes.count - leading.count - trailing.count
            guard repeats >= minimumRepeats, repeats <= maximumRepeats else { return false }
            for index in leading.indices where !Self.contains(leading[index], bytes[index]) { return false }
            for index in leading.count..<(leading.count + repeats) where !Self.contains(repeated, bytes[index]) { return false }
            let trailingStart = leading.count + repeats
            for index in trailing.indices where !Self.contains(trailing[index], bytes[trailingStart + index]) { return false }
            return true
        }

        @inline(__always)
        static func contains(_ members: Members, _ byte: UInt8) -> Bool {
            byte < 64 ? members.0 >> UInt64(byte) & 1 != 0 : members.1 >> UInt64(byte &- 64) & 1 != 0
        }
    }

    /// A sparse set of program counters: constant-time insert, membership and clear.
    struct ThreadList {
        let dense: UnsafeMutablePointer<Int>
        let sparse: UnsafeMutablePointer<Int>
        var count = 0

        func contains(_ pc: Int) -> Bool {
            let slot = sparse[pc]
            return slot >= 0 && slot < count && dense[slot] == pc
        }

        mutating func insert(_ pc: Int) {
            sparse[pc] = count
            dense[count] = pc
            count += 1
        }

        mutating func removeAll() { count = 0 }
    }

    /// Adds `pc` and everything reachable from it without reading a code point; true on reaching `match`.
    private func add(_ pc: Int, at position: Int, end: Int, to list: inout ThreadList) -> Bool {
        if list.contains(pc) { return false }
        list.insert(pc)
        switch program[pc] {
        case .match: return true
        case .jump(let target): return add(target, at: position, end: end, to: &list)
        case .split(let first, let second):
            return add(first, at: position, end: end, to: &list) || add(second, at: position, end: end, to: &list)
        case .start: return position == 0 && add(pc + 1, at: position, end: end, to: &list)
        case .end: return position == end && add(pc + 1, at: position, end: end, to: &list)
        case .set: return false
        }
    }

    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at position: Int) -> (UInt32, Int) {
        let lead = UInt32(bytes[position])
        if lead < 0x80 { return (lead, 1) }
        let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        var value = lead & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for offset in 1..<length { value = value << 6 | UInt32(bytes[position + offset] & 0x3F) }
        return (value, length)
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        mutating func alternation() -> Node? {
            var branches: [Node] = []
            while true {
                guard let branch = sequence() else { return nil }
                branches.append(branch)
                guard current == "|" else { break }
                index += 1
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func sequence() -> Node? {
            var items: [Node] = []
            while let character = current, character != "|", character != ")" {
                guard let atom = atom() else { return nil }
                guard let quantified = quantifier(atom) else { return nil }
                items.append(quantified)
            }
            return .sequence(items)
        }

        mutating func atom() -> Node? {
            guard let character = current else { return nil }
            index += 1
            switch character {
            case "^": return .start
            case "$": return .end
            case ".": return .set(NativeRegex.dot)
            case "(":
                if current == "?" {
                    guard index + 1 < scalars.count, scalars[index + 1] == ":" else { return nil }
                    index += 2
                }
                guard let inner = alternation(), current == ")" else { return nil }
                index += 1
                return inner
            case "[": return characterClass()
            case "\\":
                guard let ranges = escape(inClass: false) else { return nil }
                return .set(ranges)
            case "*", "+", "?", "{", "}", "]", ")":
                return nil
            default:
                return .set(CharacterSet(ranges: [character.value...character.value], negated: false))
            }
        }

        mutating func quantifier(_ atom: Node) -> Node? {
            guard let character = current else { return atom }
            var minimum: Int
            var maximum: Int
            switch character {
            case "*": minimum = 0; maximum = .max; index += 1
            case "+": minimum = 1; maximum = .max; index += 1
            case "?": minimum = 0; maximum = 1; index += 1
            case "{":
                index += 1
                guard let low = number() else { return nil }
                minimum = low
                maximum = low
                if current == "," {
                    index += 1
                    if current == "}" {
                        maximum = .max
                    } else {
                        guard let high = number(), high >= low else { return nil }
                        maximum = high
                    }
                }
                guard current == "}" else { return nil }
                index += 1
            default:
                return atom
            }
            switch atom {
            case .start, .end: return nil
            default: break
            }
            if current == "?" { index += 1 }  // lazy: the same answer to "is there a match"
            return .repetition(atom, min: minimum, max: maximum)
        }

        mutating func number() -> Int? {
            var value = 0
            var digits = 0
            while let character = current,
                let digit = character.properties.numericType == .decimal && character.isASCII ? Int(String(character)) : nil
            {
                value = value * 10 + digit
                digits += 1
                index += 1
                guard value < 100_000 else { return nil }
            }
            return digits > 0 ? value : nil
        }

        /// After a backslash: a class shorthand, a control escape, or an escaped syntax character.
        mutating func escape(inClass: Bool) -> CharacterSet? {
            guard let character = current else { return nil }
            index += 1
            func single(_ code: UInt32) -> CharacterSet { CharacterSet(ranges: [code...code], negated: false) }
            switch character {
            case "d": return CharacterSet(ranges: NativeRegex.digits, negated: false)
            case "D": return CharacterSet(ranges: NativeRegex.digits, negated: true)
            case "w": return CharacterSet(ranges: NativeRegex.word, negated: false)
            case "W": return CharacterSet(ranges: NativeRegex.word, negated: true)
            case "s": return CharacterSet(ranges: NativeRegex.space, negated: false)
            case "S": return CharacterSet(ranges: NativeRegex.space, negated: true)
            case "t": return single(9)
            case "n": return single(10)
            case "v": return single(11)
            case "f": return single(12)
            case "r": return single(13)
            case "-" where inClass: return single(45)
            default:
                guard "^$\\.*+?()[]{}|/".unicodeScalars.contains(character) else { return nil }
                return single(character.value)
            }
        }

        mutating func characterClass() -> Node? {
            var negated = false
            if current == "^" {
                negated = true
                index += 1
            }
            var ranges: [ClosedRange<UInt32>] = []
            while let character = current, character != "]" {
                index += 1
                var low: UInt32
                if character == "\\" {
                    guard let set = escape(inClass: true) else { return nil }
                    // A shorthand (\d, \W…) in a class joins its members; a negated one cannot
                    // be written as ranges here, so leave that to ICU.
                    if set.ranges.count != 1 || set.ranges[0].count != 1 || set.negated {
                        guard !set.negated else { return nil }
                        ranges += set.ranges
                        continue
                    }
                    low = set.ranges[0].lowerBound
                } else if character == "[" {
                    return nil
                } else {
                    low = character.value
                }
                if current == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    index += 1
                    guard let highCharacter = current, highCharacter != "\\", highCharacter != "[" else { return nil }
                    index += 1
                    guard low <= highCharacter.value else { return nil }
                    ranges.append(low...highCharacter.value)
                } else {
                    ranges.append(low...low)
                }
            }
            guard current == "]" else { return nil }
            index += 1
            return .set(CharacterSet(ranges: ranges, negated: negated))
        }
    }
}
