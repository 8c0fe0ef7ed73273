/// A credential that prints as `<redacted>` everywhere, so it cannot reach a log by accident.
///
/// `CustomReflectable` with no children: `dump`, and template engines that read values by
/// reflection (the console's), see the redaction, not the stored value.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String
    public init(_ value: String) { self.value = value }
    /// The secret itself; call only where it is put on the wire.
    public func reveal() -> String { value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
