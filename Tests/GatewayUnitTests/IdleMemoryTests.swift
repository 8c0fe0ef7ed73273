import Foundation
import GatewayTestKit
import Gateway
import Testing

#if os(Linux)
    import Glibc

    @Suite("Memory given back while idle")
    struct IdleMemoryTests {
        /// Kilobytes of `length` bytes at `address` in memory (`mincore`).
        static func residentKilobytes(of address: UnsafeMutableRawPointer, length: Int) -> Int {
            var pages = [UInt8](repeating: 0, count: (length + 4095) / 4096)
            guard mincore(address, length, &pages) == 0 else { return -1 }
            return pages.count { $0 & 1 == 1 } * 4
        }

        @Test("a read-only file mapping the process touched is no longer resident after a trim; a written private one is kept")
        func trimReclaimsCleanFilePages() throws {
            let directory = try makeTemporaryDirectory()
            let path = directory.appendingPathComponent("pages.bin").path
            let size = 8 << 20
            #expect(
                FileManager.default.createFile(atPath: path, contents: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 >> 12 | 1) })))
            let descriptor = open(path, O_RDONLY)
            #expect(descriptor >= 0)
            defer { close(descriptor) }
            // Written back first: the kernel reclaims clean pages at once, dirty ones only after writeback.
            #expect(fsync(descriptor) == 0)
            let clean = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
            defer { munmap(clean, size) }
            let written = try #require(
                mmap(nil, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
            defer { munmap(written, 1 << 20) }
            var sum = 0
            for offset in stride(from: 0, to: size, by: 4096) { sum &+= Int(clean.load(fromByteOffset: offset, as: UInt8.self)) }
            memset(written, 1, 1 << 20)
            #expect(sum > 0)
            #expect(Self.residentKilobytes(of: clean, length: size) >= 8 * 1024 - 64)
            #expect(Self.residentKilobytes(of: written, length: 1 << 20) == 1024)

            #expect(IdleMemoryService.trim() > 0)
            // The kernel may leave a page or two; the point is that the mapping is no longer resident.
            #expect(Self.residentKilobytes(of: clean, length: size) < 1024)
            #expect(Self.residentKilobytes(of: written, length: 1 << 20) == 1024)
            // Still readable: the next read faults the page back in.
            #expect(clean.load(fromByteOffset: 4096 * 5, as: UInt8.self) == UInt8(5 | 1))
        }
    }
#endif
