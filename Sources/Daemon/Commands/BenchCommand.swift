import ArgumentParser
import Foundation
import Recognizer
import Temporal
import Decode

/// `regionspotd bench`: times the engine on generated full-size weights next to the
/// cblas_sgemm ceiling measured in the same run. FLOPs are the GEMM FLOPs the engine
/// executes (2*m*n*k per call, counted by the GEMM wrapper), so GFLOP/s compares
/// directly with the sgemm ceiling.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmark the engine against the BLAS ceiling.")
    @Flag(help: "One JSON object per line.") var json = false
    @Flag(help: "Fewer repetitions and the smaller rows only.") var quick = false
    @Option(help: "Threads for BLAS and kernels (default: all cores).") var threads: Int?
    @Option(help: "Only rows whose name contains this.") var filter: String?
    @Option(help: "Instead of the rows: measure a keyframe and each stream's decoding for this configuration file and estimate how often every stream will be recognized on this machine.")
    var capacity: String?
    @Option(help: "Model rows at these precisions, comma separated (fp32, bf16, int8); rows of other than fp32 are suffixed _<precision>.")
    var precision: String = "fp32"
    @Option(help: "A model directory (e.g. made by `models synthesize`): report each --precision other than fp32 (default bf16) vs fp32 on it, 16 boxes with masks (top-1, |Δprob|, mask IoU).")
    var accuracyWeights: String?

    func run() async throws {
        let cmd = self
        try await onThread("bench") { try cmd.measure() }
    }

    func measure() throws {
        if let capacity { return try capacityReport(capacity) }
        if let threads { Parallel.workers = threads }
        if let budget = ProcessInfo.processInfo.environment["REGIONSPOTD_SCORE_BUDGET"].flatMap(Int.init) { SAM.scoreBudget = budget }
        let bench = Bench(json: json, reps: quick ? 2 : 5, filter: filter)
        bench.header()
        let precisions = try Self.precisions(precision)
        let ceiling = SgemmCeiling().measure(bench, reps: quick ? 3 : 7), ceilingPerCPU = bench.ceilingPerCPU
        let bf16Ceiling = precisions.contains(.bf16) ? SbgemmCeiling().measure(bench, reps: quick ? 3 : 7) : 0
        let bf16CeilingPerCPU = bench.ceilingPerCPU
        let int8Ceiling = precisions.contains(.int8) ? Int8Ceiling().measure(bench, reps: quick ? 3 : 7) : 0
        let int8CeilingPerCPU = bench.ceilingPerCPU
        for p in precisions {
            bench.ceiling = p == .bf16 ? bf16Ceiling : p == .int8 ? int8Ceiling : ceiling
            bench.ceilingPerCPU = p == .bf16 ? bf16CeilingPerCPU : p == .int8 ? int8CeilingPerCPU : ceilingPerCPU
            bench.suffix = p == .fp32 ? "" : "_" + p.rawValue
            let sam = try samRows(bench, precision: p)
            try clipRows(bench, sam: sam, precision: p)
        }
        bench.ceiling = ceiling
        bench.ceilingPerCPU = ceilingPerCPU
        bench.suffix = ""
        if let accuracyWeights {
            let reduced = precisions.filter { $0 != .fp32 }
            for p in reduced.isEmpty ? [.bf16] : reduced { try accuracyRow(bench, directory: accuracyWeights, precision: p) }
        }
        videoRows(bench)
        livePictureRows(bench)
        messagingRows(bench)
    }

    /// Tracking and decoding: the per-frame work between keyframes.
    func videoRows(_ bench: Bench) {
        if bench.wants("temporal") {
            // benchmarkFrame times 200 frames itself and returns ms per frame
            let runs = (0..<(quick ? 1 : 3)).map { _ in TemporalBenchmark.benchmarkFrame(tracks: 50, vectors: 14_000) }
            bench.report("temporal_50_tracks", gflop: 0, times: runs)
            bench.note("temporal_50_tracks", "ms per frame: 50 tracks, 14,000 motion vectors at 1080p, binning included, one core")
        }
        // "decode_1080p", not "decode": a filter such as sam_decoder_tokens_16 holds "decode"
        // and wrote and decoded a 1080p clip it never asked for.
        guard bench.wants("decode_1080p"), !quick else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rsd-bench-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("1080p.mp4").path
        guard runTool("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=10",
                                          "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p", clip]) else {
            bench.note("decode_1080p", "skipped: the ffmpeg CLI could not write a 1080p H.264 clip")
            return
        }
        let threads = Parallel.workers
        var frames = 0
        bench.row("decode_1080p", reps: 3) {
            frames = 0
            guard let src = try? VideoSource(url: clip, options: SourceOptions(decoderThreads: threads)) else { return }
            while let f = try? src.nextFrame() { _ = f; frames += 1 }
        }
        let t0 = Date()
        _ = runTool("/usr/bin/ffmpeg", ["-loglevel", "error", "-threads", "\(threads)", "-i", clip, "-f", "null", "-"])
        bench.note("decode_1080p", "\(frames) frames; ffmpeg -threads \(threads) -i FILE -f null - took \(String(format: "%.1f", Date().timeIntervalSince(t0) * 1000)) ms in the same run")
    }

    func runTool(_ path: String, _ args: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// SAM rows; returns the model, embedding and input for the keyframe row.
    func samRows(_ bench: Bench, precision: Precision) throws -> (SAM, SAM.Input)? {
        guard bench.wants("sam") || bench.wants("keyframe") else { return nil }
        let st = try SafeTensors(name: "generated SAM ViT-B", tensors: SAMConfig.vitB.syntheticWeights())
        var weights = SAMConfig.weights([st])
        weights.precision = precision
        let sam = try SAM(weights: weights)
        var rgb = [UInt8](repeating: 0, count: 1024 * 768 * 3)
        for i in rgb.indices { rgb[i] = UInt8(truncatingIfNeeded: i * 7 + i / 3000) }
        let input = sam.preprocess(rgb: rgb, width: 1024, height: 768)
        var emb = Tensor(zeros: [1])
        bench.row("sam_vit_b_encoder", reps: quick ? 1 : 3) { emb = sam.encode(input) }
        guard bench.wants("sam") else { return (sam, input) }
        if emb.count == 1 { emb = sam.encode(input) }
        // everything mode as a stream runs it: 16 x 16 points, three masks each, low-res
        bench.row("sam_everything_16", reps: quick ? 1 : 3) { _ = sam.automaticProposals(embedding: emb, input: input) }
        for n in quick ? [16] : [1, 16, 64] {
            let boxes = Self.boxes(n)
            bench.row("sam_decoder_tokens_\(n)") { _ = sam.decode(embedding: emb, input: input, boxes: boxes) }
            bench.row("sam_decoder_masks_\(n)", reps: quick ? 1 : 3) { _ = sam.decode(embedding: emb, input: input, boxes: boxes, masks: true) }
        }
        return (sam, input)
    }

    static func boxes(_ n: Int) -> [[Float]] { PrecisionCheck.probeBoxes(n) }

    /// A 100-class vocabulary read back from the on-disk cache: what a restart or a
    /// SIGHUP with an unchanged vocabulary costs (target < 50 ms). The cache is primed with
    /// a one-layer text tower of B's embedding size; reading it never runs the tower.
    func vocabularyCacheRow(_ bench: Bench) throws {
        guard bench.wants("vocabulary_cached") else { return }
        struct WordTokenizer: TextTokenizing {
            func encode(_ text: String) -> [Int] {
                [49406] + text.split(separator: " ").map { w in 256 + Int(w.utf8.reduce(UInt32(7)) { $0 &* 31 &+ UInt32($1) } % 40000) } + [49407]
            }
        }
        let text = try CLIPText(weights: WeightSource.clip([try SafeTensors(name: "generated tiny CLIP", tensors: syntheticCLIPWeights(vision: .tiny, text: .tiny))]))
        let v = try Vocabulary(labels: (0..<100).map { "class \($0)" }, names: (0..<100).map { ["class \($0)", "thing \($0)"] })
        let dir = NSTemporaryDirectory() + "regionspotd-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try VocabularyEmbedder.embed(v, text: text, tokenizer: WordTokenizer(), textWeightsHash: "bench", cacheDirectory: dir)
        bench.row("vocabulary_cached_100") {
            let e = try? VocabularyEmbedder.embed(v, text: text, tokenizer: WordTokenizer(), textWeightsHash: "bench", cacheDirectory: dir)
            precondition(e?.fromCache == true, "vocabulary cache not hit")
        }
    }

    func clipRows(_ bench: Bench, sam: (SAM, SAM.Input)?, precision: Precision) throws {
        if precision == .fp32 { try vocabularyCacheRow(bench) }
        guard bench.wants("clip") || bench.wants("text") || bench.wants("head") || bench.wants("keyframe") else { return }
        let st = try SafeTensors(name: "generated CLIP ViT-B/16", tensors: syntheticCLIPWeights(vision: .b16, text: .b))
        var w = WeightSource.clip([st])
        w.precision = precision
        let vision = try CLIPVision(weights: w)
        let pixels = Tensor(shape: [3, 224, 224], data: (0..<(3 * 224 * 224)).map { Float($0 % 255) / 255 - 0.5 })
        var fm = Tensor(zeros: [1])
        bench.row("clip_b16_vision") { fm = vision(pixels).featureMap }
        if !quick && bench.wants("clip_l14") {
            let l = try CLIPVision(weights: WeightSource.clip([try SafeTensors(name: "generated CLIP ViT-L/14", tensors: syntheticCLIPWeights(vision: .l14, text: .l))]))
            bench.row("clip_l14_vision", reps: 2) { _ = l(pixels) }
        }
        let text = try CLIPText(weights: w)
        // token sequences as long as the 81 templates with a two-word class name
        let lengths = Vocabulary.templates.map { $0.split(separator: " ").count + 4 }
        let seqs = lengths.enumerated().map { i, n in [49406] + (1..<(n - 1)).map { 320 + (i * 31 + $0 * 7) % 40000 } + [49407] }
        bench.row("text_class_81") { _ = try? text(seqs) }
        if !quick { bench.row("text_vocab_100", reps: 1) { for _ in 0..<100 { _ = try? text(seqs) } } }
        let head = try RegionSpotHead(weights: RegionSpotHead.weights([try SafeTensors(name: "generated head", tensors: syntheticHeadWeights(width: 768, embedDim: 512))]))
        for n in [16, 64] {
            var r = [Float](repeating: 0, count: n * 256)
            for i in r.indices { r[i] = Float((i * 37) % 101) / 101 - 0.5 }
            let tokens = Tensor(shape: [n, 256], data: r)
            bench.row("head_\(n)") { _ = head.embed(regionTokens: tokens, featureMap: fm) }
        }
        // a whole keyframe: SAM-B encoder + CLIP-B/16 vision + 16 boxes (tokens only) + head
        if let (sam, input) = sam {
            let boxes = Self.boxes(16)
            bench.row("keyframe_bb_16", reps: quick ? 1 : 3) {
                let emb = sam.encode(input)
                let fm = vision(pixels).featureMap
                let tokens = sam.decode(embedding: emb, input: input, boxes: boxes).regionTokens
                _ = head.embed(regionTokens: tokens, featureMap: fm)
            }
        }
    }
}

/// The cblas_sgemm ceiling: 4096x768 by 768x3072, the SAM-B MLP's shape. The operands
/// are allocated and filled once, outside the timed call: an earlier version allocated
/// 72 MB per repetition inside the timing and under-stated the ceiling by ~25%.
struct SgemmCeiling {
    let m = 4096, k = 768, n = 3072

    func measure(_ bench: Bench, reps: Int) -> Double {
        let a = (0..<(m * k)).map { Float(($0 * 37) % 101) / 101 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 53) % 103) / 103 - 0.5 }
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        c.initialize(repeating: 0, count: m * n)
        defer { c.deallocate() }
        return bench.row("sgemm_ceiling", reps: reps) {
            Gemm.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
        }
    }
}

/// Timing rows: median and spread over repetitions, GEMM GFLOP/s, % of the ceiling.
final class Bench: @unchecked Sendable {
    let json: Bool, reps: Int, filter: String?
    var ceiling: Double = 0
    var ceilingPerCPU: Double = 0
    /// Appended to every row name (the precision of the model rows: "_bf16").
    var suffix = ""

    init(json: Bool, reps: Int, filter: String?) { self.json = json; self.reps = reps; self.filter = filter }

    /// A free-text line under a row (plain) or a {"name", "note"} object (JSON).
    func note(_ name: String, _ text: String) {
        if json {
            let d = try! JSONSerialization.data(withJSONObject: ["name": name, "note": text], options: [.sortedKeys])
            print(String(decoding: d, as: UTF8.self))
        } else {
            print("  " + text)
        }
    }

    func wants(_ name: String) -> Bool { filter.map { name.contains($0) || $0.contains(name) } ?? true }

    /// User + system CPU time of the process in ms.
    static func cpuMs() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000
    }

    /// Peak resident set of the process so far (getrusage ru_maxrss, KiB on Linux).
    static func peakRSSMiB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }

    func header() {
        guard !json else { return }
        let timeout = ProcessInfo.processInfo.environment[OpenBLASIdle.variable] ?? "unset (OpenBLAS default: spin ~0.1 s)"
        print("threads: \(Parallel.workers) (BLAS \(Gemm.threads)), \(OpenBLASIdle.variable)=\(timeout)")
        print("name                          GFLOP   median ms     min ms     max ms   GFLOP/s  % ceiling     cpu ms  % ceil/cpu")
    }

    /// Runs `body` once to warm up, then `reps` times; returns achieved GFLOP/s.
    @discardableResult
    func row(_ name: String, reps: Int? = nil, _ body: () -> Void) -> Double {
        let name = name.hasSuffix("_ceiling") ? name : name + suffix
        guard filter.map({ name.contains($0) || name.hasSuffix("_ceiling") }) ?? true else { return 0 }
        body()
        var times: [Double] = [], cpu: [Double] = []
        var flops = 0
        for _ in 0..<(reps ?? self.reps) {
            let f0 = gemmFlops.load(ordering: .relaxed)
            let c0 = Self.cpuMs()
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            cpu.append(Self.cpuMs() - c0)
            flops = gemmFlops.load(ordering: .relaxed) - f0
        }
        return report(name, gflop: Double(flops) / 1e9, times: times, cpu: cpu)
    }

    /// Prints one row from measured wall times and process CPU times (ms).
    @discardableResult
    func report(_ name: String, gflop: Double, times unsortedTimes: [Double], cpu unsortedCPU: [Double]? = nil) -> Double {
        let times = unsortedTimes.sorted()
        let cpu = (unsortedCPU ?? unsortedTimes).sorted()
        // CPU time (user + system of the whole process) is what a loaded machine distorts
        // least: GFLOP per CPU-second against the ceiling's is the load-robust efficiency.
        let cpuMedian = cpu[cpu.count / 2]
        let cpuGflops = cpuMedian > 0 ? gflop / (cpuMedian / 1000) : 0
        if name.hasSuffix("_ceiling") { ceilingPerCPU = cpuGflops }
        let cpuPct = ceilingPerCPU > 0 ? 100 * cpuGflops / ceilingPerCPU : 100
        let median = times[times.count / 2]
        let gflops = median > 0 ? gflop / (median / 1000) : 0
        let pct = ceiling > 0 ? 100 * gflops / ceiling : 100
        if json {
            let obj: [String: Any] = ["name": name, "gflop": gflop, "median_ms": median, "min_ms": times.first!, "max_ms": times.last!,
                                      "gflops": gflops, "ceiling_gflops": ceiling > 0 ? ceiling : gflops, "percent_of_ceiling": pct, "reps": times.count,
                                      "threads": Parallel.workers, "peak_rss_mib": Self.peakRSSMiB(),
                                      "cpu_ms": cpuMedian, "gflops_per_cpu_s": cpuGflops, "percent_of_ceiling_cpu": cpuPct]
            let d = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: d, as: UTF8.self))
        } else {
            print(name.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + String(format: "%9.2f %11.2f %10.2f %10.2f %9.1f %9.1f%% %10.1f %9.1f%%", gflop, median, times.first!, times.last!, gflops, pct, cpuMedian, cpuPct))
        }
        fflush(nil)
        return gflops
    }
}
