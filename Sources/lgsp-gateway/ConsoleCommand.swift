import ArgumentParser
import Foundation
import Gateway

#if canImport(Glibc)
    import Glibc
#endif

/// `console`: the web console's accounts.
struct Console: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The operator console's accounts (the console itself runs inside `run`, on console.listen).",
        subcommands: [AddUser.self])

    struct AddUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-user",
            abstract: "Make a console account: asks for its password and prints the entry for console.users, or adds it to --file.",
            discussion: """
                The password is read from the terminal (twice, not echoed), or as one line from standard input when that \
                is not a terminal. It is stored as a bcrypt hash only. Reload the gateway (systemctl reload lgsp-gateway) \
                for a new account to work.
                """)

        @Argument(help: "The user name: letters, digits and . _ - @.") var name: String
        @Option(help: "viewer (reads every page) or operator (also retries, purges, reprocesses and reloads).") var role: String = "viewer"
        @Option(help: "The console.users_file to add the account to, e.g. /etc/lgsp-gateway/console-users.yaml.") var file: String?

        func validate() throws {
            guard GatewayConfiguration.Console.Role(rawValue: role) != nil else {
                throw ValidationError("--role must be viewer or operator")
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else {
                throw ValidationError("a user name is letters, digits and . _ - @")
            }
        }

        func run() async throws {
            var standardError = FileHandle.standardError
            let password: String
            if isatty(STDIN_FILENO) == 1 {
                let first = Self.readHidden("Mật khẩu / password for \(name): ")
                let second = Self.readHidden("Nhập lại / again: ")
                guard first == second else {
                    print("the two passwords differ; nothing written", to: &standardError)
                    throw ExitCode(1)
                }
                password = first
            } else {
                password = readLine(strippingNewline: true) ?? ""
            }
            guard password.count >= ConsoleAccounts.minimumPasswordLength else {
                print(
                    "a console password has at least \(ConsoleAccounts.minimumPasswordLength) characters; nothing written",
                    to: &standardError)
                throw ExitCode(1)
            }
            let chosenRole = GatewayConfiguration.Console.Role(rawValue: role)!
            let hash = ConsoleAccounts.hash(password: password)
            if let file {
                do { try ConsoleAccounts.append(name: name, role: chosenRole, hash: hash, to: file) } catch {
                    print("\(error)", to: &standardError)
                    throw ExitCode(1)
                }
                print("added \(name) (\(role)) to \(file); reload the gateway for it to take effect")
            } else {
                print(ConsoleAccounts.entry(name: name, role: chosenRole, hash: hash), terminator: "")
            }
        }

        /// One line from the terminal with echo off.
        static func readHidden(_ prompt: String) -> String {
            var standardError = FileHandle.standardError
            print(prompt, terminator: "", to: &standardError)
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
            defer {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                print("", to: &standardError)
            }
            return readLine(strippingNewline: true) ?? ""
        }
    }
}
