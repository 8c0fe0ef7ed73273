import Foundation

/// The repository checkout a tool runs from, for commands that default to its `Contracts/` and
/// `deploy/examples/` (the demo, `contracts`, the benchmarks) when no option names them.
public enum RepositoryCheckout {
    /// The nearest directory, from the working directory up or from the executable's, that holds
    /// `Contracts/manifest.json` and `deploy/examples/gateway.yaml`.
    public static func locate() -> URL? {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        for start in candidates {
            var directory = start.standardizedFileURL
            for _ in 0..<8 {
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Contracts/manifest.json").path),
                    FileManager.default.fileExists(atPath: directory.appendingPathComponent("deploy/examples/gateway.yaml").path)
                {
                    return directory
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        return nil
    }
}
