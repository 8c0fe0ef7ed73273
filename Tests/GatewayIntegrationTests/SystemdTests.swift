import Foundation
import Gateway
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing

/// A datagram socket standing in for systemd's notify socket.
final class NotifyListener: Sendable {
    let path: String
    let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, bound == 0 else { throw MockError("cannot bind \(path)") }
    }

    deinit { close(descriptor) }

    /// Every message that has arrived, without waiting.
    func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return messages }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
    }
}

@Suite("Running under systemd", .serialized)
struct SystemdTests {
    @Test("the unit passes systemd-analyze verify and rates 2.0 or better on systemd-analyze security")
    func unit() throws {
        let unit = repositoryRoot.appendingPathComponent("deploy/lgsp-gateway.service").path
        let (_, security) = try runTool(["systemd-analyze", "security", "--offline=true", unit])
        let line = try #require(security.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(Double(line.split(separator: ":").last!.split(separator: " ").first!))
        #expect(score <= 2.0, "\(line)")

        // verify checks ExecStart= exists: point a copy at the binary this build made.
        let directory = try makeTemporaryDirectory()
        let copy = directory.appendingPathComponent("lgsp-gateway.service").path
        try String(contentsOfFile: unit, encoding: .utf8).replacingOccurrences(
            of: "/usr/bin/lgsp-gateway", with: try gatewayExecutable().path
        )
        .write(toFile: copy, atomically: true, encoding: .utf8)
        let (status, output) = try runTool(["systemd-analyze", "verify", copy])
        #expect(status == 0 && output.isEmpty, "\(output)")
    }

    /// Runs `lgsp-gateway run` as systemd would start it (a notify socket, a watchdog interval)
    /// against fresh mocks, and hands the process and the socket to `body`.
    func underSystemd(watchdogMicroseconds: Int, _ body: @escaping @Sendable (ChildProcess, NotifyListener) async throws -> Void)
        async throws
    {
        let directory = try makeTemporaryDirectory()
        let listener = try NotifyListener(path: directory.appendingPathComponent("notify").path)
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey])
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            var environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath,
                storePath: directory.appendingPathComponent("gateway.sqlite").path
            ).variables
            environment["PATH"] = "/usr/bin:/bin"
            environment["NOTIFY_SOCKET"] = listener.path
            environment["WATCHDOG_USEC"] = "\(watchdogMicroseconds)"
            let gateway = try ChildProcess(
                ["run", "--config", repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path],
                environment: environment, outputPath: directory.appendingPathComponent("run.out"))
            try await body(gateway, listener)
        }
    }

    @Test("READY=1 once running, WATCHDOG=1 while the loops make progress, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM")
    func notifyProtocol() async throws {
        try await underSystemd(watchdogMicroseconds: 600_000) { gateway, listener in
            var messages: [String] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while messages.filter({ $0 == "WATCHDOG=1" }).count < 4 && ContinuousClock.now < deadline {
                messages += listener.drain()
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 4, "\(messages)")
            #expect(messages.first?.hasPrefix("READY=1") == true, "\(messages)")

            // systemctl reload: RELOADING=1 with the monotonic clock, then READY=1 once the new configuration runs.
            kill(gateway.process.processIdentifier, SIGHUP)
            #expect(
                try await eventually(timeout: .seconds(30)) {
                    messages += listener.drain()
                    return messages.drop { !$0.hasPrefix("RELOADING=1") }.dropFirst().contains { $0.hasPrefix("READY=1") }
                }, "\(messages)")
            let reloading = try #require(messages.first { $0.hasPrefix("RELOADING=1") })
            let monotonic = try #require(reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") })
            #expect(UInt64(monotonic.dropFirst("MONOTONIC_USEC=".count)) != nil, "\(reloading)")
            #expect(gateway.output.contains("configuration reloaded"), "\(gateway.output)")
            #expect(gateway.process.isRunning)
            gateway.process.terminate()
            #expect(try await gateway.waitForExit(timeout: .seconds(20)) == 0)
            messages += listener.drain()
            #expect(messages.contains { $0.hasPrefix("STOPPING=1") }, "\(messages)")
        }
    }

    @Test("with the shipped unit's 60 s watchdog, SIGTERM still stops the gateway at once")
    func stopsPromptlyWithLongWatchdog() async throws {
        try await underSystemd(watchdogMicroseconds: 60_000_000) { gateway, listener in
            var messages: [String] = []
            let fed = try await eventually(timeout: .seconds(30)) {
                messages += listener.drain()
                return messages.contains("WATCHDOG=1")
            }
            #expect(fed, "\(messages)")
            gateway.process.terminate()
            // Nothing is in flight: stopping must not wait for the watchdog loop's sleep.
            let status = try await gateway.waitForExit(timeout: .seconds(3))
            #expect(status == 0, "\(gateway.output)")
        }
    }

    @Test("a loop that stops beating is named stale within the watchdog interval; one never seen is stale from the start")
    func heartbeats() async throws {
        let heartbeats = Heartbeats()
        #expect(heartbeats.stale(expected: ["pull:a", "forwarder"], limit: .seconds(10)) == ["pull:a", "forwarder"])
        heartbeats.beat("pull:a")
        heartbeats.beat("forwarder")
        #expect(heartbeats.stale(expected: ["pull:a", "forwarder"], limit: .seconds(10)).isEmpty)
        try await Task.sleep(for: .milliseconds(150))
        heartbeats.beat("forwarder")
        #expect(heartbeats.stale(expected: ["pull:a", "forwarder"], limit: .milliseconds(100)) == ["pull:a"])
    }
}
