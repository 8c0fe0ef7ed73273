import Foundation
import GatewayConfig
import NIOSSL

extension GatewayConfiguration {
    /// `console:`: the operators' web console. Off unless `listen` is set.
    public struct Console: Sendable {
        public enum Role: String, Sendable, CaseIterable {
            /// Reads every page.
            case viewer
            /// Also retries, purges, reprocesses and reloads.
            case `operator`
        }

        public struct Account: Sendable, Equatable {
            public var name: String
            public var role: Role
            /// bcrypt, as `lgsp-gateway console add-user` writes it.
            public var passwordHash: String
        }

        /// nil: no console.
        public var host: String?
        public var port = 9465
        public var certificatePath: String?
        public var keyPath: String?
        public var accounts: [Account] = []
        /// Where `accounts` came from besides this file (`users_file`), for messages.
        public var usersFile: String?
        public var sessionTimeout = Duration.seconds(8 * 3600)
        /// Failed logins from one address before it must wait `loginLockout`.
        public var maxFailedLogins = 5
        public var loginLockout = Duration.seconds(15 * 60)

        public var isEnabled: Bool { host != nil }
        /// Loopback needs no TLS: nothing off the machine can reach it.
        public var isLoopback: Bool { host.map(Self.isLoopback) ?? true }
        public var usesTLS: Bool { certificatePath != nil }

        static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
        }

        init(_ section: ConfigValue?, environment: ConfigEnvironment) {
            guard let section else { return }
            section.allowOnly(["listen", "tls", "users", "users_file", "session_timeout", "max_failed_logins", "login_lockout"])
            sessionTimeout = section.duration("session_timeout", default: sessionTimeout, range: .seconds(60)...(.seconds(7 * 86400)))
            maxFailedLogins = section.int("max_failed_logins", default: maxFailedLogins, range: 1...1000)
            loginLockout = section.duration("login_lockout", default: loginLockout, range: .seconds(1)...(.seconds(86400)))
            guard let listen = section.optionalString("listen") else { return }
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
            else {
                section["listen"]?.report("expected host:port such as 127.0.0.1:9465, found \"\(listen)\"")
                return
            }
            let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if let tls = section["tls"] {
                tls.allowOnly(["certificate", "key"])
                let certificate = tls.path("certificate", required: false)
                let key = tls.path("key", required: false)
                if (certificate == nil) != (key == nil) {
                    tls.report("give both certificate and key, or neither")
                } else if let certificate, let key {
                    do {
                        _ = try NIOSSLCertificate.fromPEMFile(certificate)
                        _ = try NIOSSLPrivateKey(file: key, format: .pem)
                        (certificatePath, keyPath) = (certificate, key)
                    } catch {
                        tls.report("\(certificate) and \(key) must be a readable PEM certificate and key: \(error)")
                    }
                }
            }
            if !Self.isLoopback(host) && certificatePath == nil {
                section["listen"]?.report(
                    "\(listen) is reachable from other machines: the console needs console.tls.certificate and console.tls.key there (or listen on 127.0.0.1)"
                )
            }
            if let users = section["users"] { accounts += Self.accounts(users) }
            if let file = section.path("users_file", required: false) {
                usersFile = file
                if FileManager.default.fileExists(atPath: file) {
                    let reader = ConfigReader(file: file, environment: environment)
                    if let root = reader.root {
                        root.allowOnly(["users"])
                        if let users = root["users"] { accounts += Self.accounts(users) }
                    }
                    for issue in reader.issues { section["users_file"]?.report("\(issue)") }
                } else {
                    section["users_file"]?.report(
                        "\(file) does not exist; make an account with: lgsp-gateway console add-user NAME --role operator --file \(file)")
                }
            }
            if accounts.isEmpty {
                section.report(
                    "the console has no accounts: add some under console.users or console.users_file (lgsp-gateway console add-user)")
            }
            let names = accounts.map(\.name)
            for name in Set(names) where names.filter({ $0 == name }).count > 1 {
                section.report("account \(name) is given more than once")
            }
            self.host = host
            self.port = port
        }

        static func accounts(_ list: ConfigValue) -> [Account] {
            list.items.compactMap { item in
                item.allowOnly(["name", "role", "password_hash"])
                guard let name = item.string("name"), let roleText = item.string("role"), let hash = item.string("password_hash")
                else { return nil }
                guard let role = Role(rawValue: roleText) else {
                    item["role"]?.report("expected viewer or operator, found \"\(roleText)\"")
                    return nil
                }
                guard hash.hasPrefix("$2"), hash.count == 60 else {
                    item["password_hash"]?.report("expected a bcrypt hash ($2b$…, 60 characters) from lgsp-gateway console add-user")
                    return nil
                }
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }), !name.isEmpty else {
                    item["name"]?.report("a user name is letters, digits and . _ - @")
                    return nil
                }
                return Account(name: name, role: role, passwordHash: hash)
            }
        }
    }
}
