import Foundation
import GatewayHTTP
import Synchronization

/// The console's two languages; Vietnamese unless the operator switched.
public enum ConsoleLanguage: String, Sendable, CaseIterable {
    case vi, en
    var other: ConsoleLanguage { self == .vi ? .en : .vi }
}

/// Every word the console shows, one table per language (ConsoleText+vi.swift, ConsoleText+en.swift).
enum ConsoleText {
    static func table(_ language: ConsoleLanguage) -> [String: String] {
        language == .vi ? vietnamese : english
    }
}

/// One signed-in user. Kept in memory only: a restarted gateway asks everyone to sign in again,
/// which is cheaper to trust than session rows in the store.
struct ConsoleSession: Sendable {
    let id: String
    let user: String
    let role: GatewayConfiguration.Console.Role
    /// Sent back in every form; a POST without it did not come from a page this session loaded.
    let csrf: String
    let expires: Date
}

final class ConsoleSessions: Sendable {
    private let sessions = Mutex<[String: ConsoleSession]>([:])

    func start(user: String, role: GatewayConfiguration.Console.Role, lasting timeout: Duration, now: Date = Date()) -> ConsoleSession {
        let session = ConsoleSession(
            id: Self.token(), user: user, role: role, csrf: Self.token(), expires: now.addingTimeInterval(timeout.timeInterval))
        sessions.withLock { all in
            all = all.filter { $0.value.expires > now }
            all[session.id] = session
        }
        return session
    }

    /// The live session `id` names, if any; an account removed by a reload ends its sessions.
    func session(id: String, now: Date = Date(), accounts: [GatewayConfiguration.Console.Account]) -> ConsoleSession? {
        sessions.withLock { all in
            guard let session = all[id] else { return nil }
            guard session.expires > now, accounts.contains(where: { $0.name == session.user && $0.role == session.role }) else {
                all[id] = nil
                return nil
            }
            return session
        }
    }

    func end(id: String) { _ = sessions.withLock { $0.removeValue(forKey: id) } }

    /// 256 bits from the system's generator, hex.
    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }
}

/// Failed logins per address: past `maximum` within `window`, that address is refused without
/// its password being looked at until the oldest failure leaves the window.
final class LoginLimiter: Sendable {
    private let failures = Mutex<[String: [Date]]>([:])

    func isLocked(_ address: String, maximum: Int, window: Duration, now: Date = Date()) -> Bool {
        failures.withLock { all in
            let recent = (all[address] ?? []).filter { now.timeIntervalSince($0) < window.timeInterval }
            all[address] = recent.isEmpty ? nil : recent
            return recent.count >= maximum
        }
    }

    func recordFailure(_ address: String, now: Date = Date()) {
        failures.withLock { all in
            all[address, default: []].append(now)
            // Bounded: an address that keeps failing keeps only as many as could matter.
            if all[address]!.count > 1000 { all[address]!.removeFirst(all[address]!.count - 1000) }
        }
    }

    func clear(_ address: String) { _ = failures.withLock { $0.removeValue(forKey: address) } }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}

/// A form's fields as the browser sent them (`application/x-www-form-urlencoded`), in order,
/// repeated names kept (the checkboxes of a table).
struct ConsoleForm: Sendable {
    var fields: [(name: String, value: String)] = []

    init() {}

    init(urlEncoded text: String) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            fields.append((decode(parts[0]), parts.count > 1 ? decode(parts[1]) : ""))
        }
    }

    subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    func all(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
}
