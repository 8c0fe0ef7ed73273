import Foundation
import HummingbirdBcrypt

/// Making console accounts: `lgsp-gateway console add-user` and the demo's one-time login.
public enum ConsoleAccounts {
    /// bcrypt's cost: 2¹² rounds, a quarter of a second on a small server, per login.
    public static let cost: UInt8 = 12
    public static let minimumPasswordLength = 12

    public static func hash(password: String) -> String { Bcrypt.hash(password, cost: cost) }

    /// The account as a `users:` list item of the configuration or of `console.users_file`.
    public static func entry(name: String, role: GatewayConfiguration.Console.Role, hash: String) -> String {
        "  - name: \(name)\n    role: \(role.rawValue)\n    password_hash: \"\(hash)\"\n"
    }

    /// Adds the account to a users file, creating it (readable by its owner only) with its
    /// `users:` key when there is none. Refuses a name the file already has.
    public static func append(name: String, role: GatewayConfiguration.Console.Role, hash: String, to path: String) throws {
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: Data("users:\n".utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConsoleAccountError("\(path) cannot be created")
            }
        }
        let existing = try String(contentsOfFile: path, encoding: .utf8)
        if existing.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "- name: \(name)" }) {
            throw ConsoleAccountError("\(path) has an account \(name) already; remove its three lines first to replace it")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(((existing.hasSuffix("\n") ? "" : "\n") + entry(name: name, role: role, hash: hash)).utf8))
    }

    /// A password for the demo's one-time login: 18 letters and digits from the system's generator.
    public static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<18).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}

public struct ConsoleAccountError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
