import Decode
import Foundation
import Testing

/// Opening and closing a source 1,000 times keeps memory flat.
///
/// RSS is process-wide and other suites run in parallel, so the measuring loop runs in a
/// child process: this test binary re-run with only `openCloseCycles` selected and
/// REGIONSPOTD_LEAK_CHILD set. The child prints its RSS samples; the parent judges them.
@Suite struct LeakTests {
    static let childFlag = "REGIONSPOTD_LEAK_CHILD"
    static let cycles = 1000

    @Test func memoryStaysFlatOverAThousandOpenCloseCycles() throws {
        let clip = try TestMedia.clip(.init(codec: .h264, bframes: 3))
        let (status, text) = try TestMedia.runSelf(filter: "LeakTests/openCloseCycles", variable: Self.childFlag, value: clip)
        #expect(status == 0, "child failed:\n\(text.suffix(2000))")
        // Lines "RSS <cycle> <bytes>".
        let samples = text.split(separator: "\n").compactMap { line -> (Int, Int)? in
            let f = line.split(separator: " ")
            guard f.count == 3, f[0] == "RSS", let c = Int(f[1]), let b = Int(f[2]) else { return nil }
            return (c, b)
        }
        try #require(samples.count == 10, "child output:\n\(text.suffix(2000))")
        // Warm-up (first 100 cycles: codec tables, thread pools, malloc arenas) excluded.
        let after100 = samples.first { $0.0 == 100 }!.1
        let last = samples.last!.1
        let growth = last - after100
        print("leak check: RSS after 100 cycles \(after100 >> 10) KiB, after \(Self.cycles) \(last >> 10) KiB, growth \(growth >> 10) KiB")
        // One leaked demuxer + decoder (I/O buffer, contexts, frame pool) is ~100s of KiB per
        // cycle, i.e. ~100 MB over 900 cycles; allow 4 MiB of allocator noise.
        #expect(growth < 4 << 20, "RSS grew \(growth >> 10) KiB over \(Self.cycles - 100) open/close cycles")
    }

    /// The child: open, decode a few frames, convert one, close; plus failing opens.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[childFlag] != nil))
    func openCloseCycles() throws {
        let clip = try #require(ProcessInfo.processInfo.environment[Self.childFlag])
        for cycle in 1...Self.cycles {
            let source = try VideoSource(url: clip, options: SourceOptions(motionVectors: cycle % 2 == 0))
            var frames: [VideoFrame] = []
            for _ in 0..<4 { if let f = try source.nextFrame() { frames.append(f) } }
            #expect(frames.count == 4)
            let rgb = try FrameConverter().rgb(frames[3], .size(width: 96, height: 96))
            #expect(rgb.bytes.count == 96 * 96 * 3)
            #expect(throws: DecodeError.self) { try VideoSource(url: clip + ".missing") }
            if cycle % 100 == 0 {
                print("RSS \(cycle) \(TestMedia.residentBytes())")
                fflush(nil)
            }
        }
    }
}
