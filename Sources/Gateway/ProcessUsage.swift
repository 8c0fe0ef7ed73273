import Foundation

#if os(Linux)
    import Glibc

    /// What a process costs, as Linux reports it: for the idle daemon deciding it is quiet, and for
    /// the benchmark reading the daemons it starts.
    public enum ProcessUsage {
        /// User and system CPU seconds this process has used.
        public static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(
                usage.ru_stime.tv_usec) / 1e6
        }

        /// A memory line of `/proc/PID/status` in megabytes: `VmRSS` (resident now), `VmHWM` (its peak).
        public static func megabytes(_ field: String, process: String = "self") -> Double? {
            guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
                let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
            else { return nil }
            return kilobytes / 1024
        }
    }
#endif
