import Foundation
import GatewayHTTP
import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Gives memory back while the daemon waits between pulls.
///
/// Most of an idle gateway's resident memory is not its data but code: the pages of its own binary
/// and of the Swift runtime, Foundation and ICU that start-up and the last pull touched, which stay
/// mapped into the process until the kernel needs the room. Once the process has used next to no
/// CPU for a whole period, it asks the kernel to reclaim its clean file-backed pages
/// (`MADV_PAGEOUT`; they stay in the page cache, so the next pull faults them back in from memory
/// in a few milliseconds) and glibc to return freed heap (`malloc_trim`). Nothing written is
/// touched: private and dirty pages stay. It trims once per quiet spell, and only on Linux.
public struct IdleMemoryService: Service, CustomStringConvertible {
    public var description: String { "IdleMemoryService" }

    /// How long the process must stay (nearly) idle before it trims.
    let quietPeriod: Duration
    let logger: Logger

    /// The share of one core under which a period counts as quiet: timers, polls and health
    /// checks take a tenth of that here, a pull or a delivery far more.
    static let quietShareOfCore = 0.01

    public init(quietPeriod: Duration, logger: Logger) {
        self.quietPeriod = quietPeriod
        self.logger = logger
    }

    public func run() async throws {
        #if os(Linux)
            await cancelWhenGracefulShutdown {
                var lastCPU = ProcessUsage.cpuSeconds()
                var trimmed = false
                while !Task.isCancelled {
                    do { try await Task.sleep(for: quietPeriod) } catch { return }
                    let cpu = ProcessUsage.cpuSeconds()
                    defer { lastCPU = cpu }
                    guard cpu - lastCPU < quietPeriod.timeInterval * Self.quietShareOfCore else {
                        trimmed = false
                        continue
                    }
                    guard !trimmed else { continue }
                    trimmed = true
                    let before = ProcessUsage.megabytes("VmRSS")
                    let pages = Self.trim()
                    logger.debug(
                        "idle: memory given back",
                        metadata: [
                            "resident_mb_before": "\(before.map { String(format: "%.1f", $0) } ?? "?")",
                            "resident_mb_after": "\(ProcessUsage.megabytes("VmRSS").map { String(format: "%.1f", $0) } ?? "?")",
                            "mappings": "\(pages)",
                        ])
                }
            }
        #endif
    }

    #if os(Linux)
        /// Reclaims the process's clean file-backed mappings and trims the heap; returns how many
        /// mappings it advised.
        @discardableResult
        public static func trim() -> Int {
            _ = mallocTrim?(0)
            guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return 0 }
            var advised = 0
            for line in maps.split(separator: "\n") {
                // `start-end perms offset device inode path`: read-only or executable mappings of a
                // file, never writable ones (their pages may be dirty) nor anonymous ones.
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6, fields[5].hasPrefix("/"), !fields[1].contains("w"),
                    let dash = fields[0].firstIndex(of: "-"),
                    let start = UInt(fields[0][..<dash], radix: 16), let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16),
                    end > start, let address = UnsafeMutableRawPointer(bitPattern: start)
                else { continue }
                if madvise(address, Int(end - start), Self.pageOut) == 0 { advised += 1 }
            }
            return advised
        }

        /// glibc's `malloc_trim`, which its module map for Swift leaves out (it is in `malloc.h`).
        static let mallocTrim: (@convention(c) (Int) -> Int32)? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim").map {
            unsafeBitCast($0, to: (@convention(c) (Int) -> Int32).self)
        }

        /// `MADV_PAGEOUT` (Linux 5.4); an older kernel refuses it, and nothing changes.
        static let pageOut: Int32 = 21

    #endif
}
