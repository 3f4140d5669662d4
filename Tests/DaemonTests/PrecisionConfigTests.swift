// models.precision and --precision: validated, applied, and the bf16 fallback on a CPU
// without bf16 instructions (oneDNN's DNNL_MAX_CPU_ISA caps the ISA it dispatches to).
import Foundation
import Recognizer
import Testing
@testable import Daemon

@Suite("models.precision")
struct PrecisionConfigTests {
    static func parse(_ precision: String) throws(ConfigError) -> DaemonConfig {
        try ConfigLoader.parse(yaml: "models: {directory: /m, precision: \(precision)}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n",
                               file: "/etc/x.yaml", checkFiles: false)
    }

    @Test("auto by default, fp32, bf16 and int8 read, unknown values refused naming the key; a change needs a restart")
    func config() throws {
        let plain = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n",
                                           file: "/etc/x.yaml", checkFiles: false)
        #expect(plain.precision == .auto)
        #expect(try Self.parse("fp32").precision == .fp32)
        let bf = try Self.parse("bf16")
        #expect(bf.precision == .bf16)
        #expect(ReloadPlan(from: plain, to: bf).needsRestart == ["models.precision"])
        #expect(try Self.parse("int8").precision == .int8)
        for (value, message) in [("fp16", "/etc/x.yaml:1: models.precision: 'fp16' is not one of: auto, fp32, bf16, int8")] {
            #expect(throws: ConfigError.self) { try Self.parse(value) }
            do { _ = try Self.parse(value) } catch { #expect(error.problems.map(\.description) == [message]) }
        }
    }

    /// recognize's stderr and JSON for `--precision p` on the end-to-end fixture image.
    static func recognize(_ precision: String, env: [String: String] = [:]) throws -> (status: Int32?, stderr: String, labels: [String], scores: [Double]) {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let png = try RecognizeCommandTests.fixtureImage(dir)
        let boxes = ["10,20,140,180", "150,0,300,120", "0,100,300,200", "60.5,40.25,220.75,160.5", "250,150,299,199"]
        let r = try Child.run(binary, ["recognize", png, "--weights", RecognizeCommandTests.fixtures + "/model_tiny", "--vocab", "person,car,traffic light,dog-other,bicycle",
                                       "--json", "--precision", precision] + boxes.flatMap { ["--box", $0] },
                              env: env.merging(["CACHE_DIRECTORY": dir.file("cache")]) { a, _ in a }, dir: dir)
        let obj = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
        let regions = obj?["regions"] as? [[String: Any]] ?? []
        return (r.status, r.stderr, regions.compactMap { $0["label"] as? String }, regions.compactMap { $0["score"] as? Double })
    }

    @Test("recognize --precision: bf16 and int8 give fp32's labels with other scores; without AVX512_BF16 (VNNI) it says so and runs fp32; auto picks and says")
    func recognizeCommand() throws {
        let fp = try Self.recognize("fp32"), bf = try Self.recognize("bf16")
        #expect(fp.status == 0 && bf.status == 0, "\(fp.stderr) \(bf.stderr)")
        #expect(bf.labels == fp.labels && bf.labels.count == 5)
        #expect(bf.scores != fp.scores, "bf16 ran: the scores move")
        #expect(zip(bf.scores, fp.scores).allSatisfy { abs($0 - $1) <= 1e-2 }, "\(bf.scores) vs \(fp.scores)")
        if OneDNN.nativeBF16 { #expect(!bf.stderr.contains("running fp32")) }
        // oneDNN capped below AVX512_BF16: the fallback line, and exactly fp32's results
        let capped = try Self.recognize("bf16", env: ["DNNL_MAX_CPU_ISA": "AVX512_CORE_VNNI"])
        #expect(capped.status == 0 && capped.stderr.contains("has neither AVX512_BF16 nor AMX: running fp32"), "\(capped.stderr)")
        #expect(capped.scores == fp.scores && capped.labels == fp.labels)
        // auto: bf16 where the CPU runs it natively, else fp32, and a line saying which
        let auto = try Self.recognize("auto")
        #expect(auto.status == 0 && auto.labels == fp.labels, "\(auto.stderr)")
        if OneDNN.nativeBF16 {
            #expect(auto.scores == bf.scores && auto.stderr.contains("precision auto: bf16, this CPU runs it natively"), "\(auto.stderr)")
        } else {
            #expect(auto.scores == fp.scores && auto.stderr.contains("precision auto: fp32"), "\(auto.stderr)")
        }
        let cappedAuto = try Self.recognize("auto", env: ["DNNL_MAX_CPU_ISA": "AVX512_CORE_VNNI"])
        #expect(cappedAuto.status == 0 && cappedAuto.stderr.contains("precision auto: fp32, this CPU (oneDNN ISA avx512_core_vnni) has neither"),
                "\(cappedAuto.stderr)")
        #expect(cappedAuto.scores == fp.scores && cappedAuto.labels == fp.labels)
        let int8 = try Self.recognize("int8")
        #expect(int8.status == 0 && int8.labels == fp.labels, "\(int8.stderr)")
        #expect(zip(int8.scores, fp.scores).allSatisfy { abs($0 - $1) <= 1e-2 }, "\(int8.scores) vs \(fp.scores)")
        if OneDNN.nativeInt8 { #expect(int8.scores != fp.scores && int8.scores != bf.scores && !int8.stderr.contains("running fp32"), "int8 ran") }
        // oneDNN capped below VNNI: the fallback line naming the ISA, and exactly fp32's results
        let cappedInt8 = try Self.recognize("int8", env: ["DNNL_MAX_CPU_ISA": "AVX512_CORE"])
        #expect(cappedInt8.status == 0 && cappedInt8.stderr.contains("precision int8 asked for, but this CPU (oneDNN ISA avx512_core) has neither AVX512_VNNI nor AVX-VNNI: running fp32"),
                "\(cappedInt8.stderr)")
        #expect(cappedInt8.scores == fp.scores && cappedInt8.labels == fp.labels)
    }

    /// A copy of the tiny fixture model (files, not links: the test writes model.json and
    /// changes a weight).
    static func modelCopy(_ dir: TempDir) throws -> String {
        let src = RecognizeCommandTests.fixtures + "/model_tiny", dst = dir.file("model")
        try FileManager.default.createDirectory(atPath: dst, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: src) {
            let target = URL(fileURLWithPath: src + "/" + name).resolvingSymlinksInPath().path
            try FileManager.default.copyItem(atPath: target, toPath: dst + "/" + name)
        }
        return dst
    }

    @Test("models check records bf16 and int8 verdicts in model.json; auto runs int8 only on the weights it passed on")
    func modelsCheck() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let model = try Self.modelCopy(dir)
        let env = ["CACHE_DIRECTORY": dir.file("cache")]
        func recognize(_ precision: String, env extra: [String: String] = [:]) throws -> (stderr: String, scores: [Double]) {
            let png = try RecognizeCommandTests.fixtureImage(dir)
            let r = try Child.run(binary, ["recognize", png, "--weights", model, "--vocab", "person,car,traffic light,dog-other,bicycle", "--json",
                                           "--precision", precision, "--box", "10,20,140,180", "--box", "150,0,300,120"], env: env.merging(extra) { a, _ in a }, dir: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let obj = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
            return (r.stderr, (obj?["regions"] as? [[String: Any]] ?? []).compactMap { $0["score"] as? Double })
        }
        // not checked: auto is what it was, and says int8 is not checked
        let before = try recognize("auto")
        #expect(before.stderr.contains("int8 is not checked for this model (`regionspotd models check \(model)` checks it)"), "\(before.stderr)")
        let dry = try Child.run(binary, ["models", "check", model, "--dry-run"], env: env, dir: dir)
        #expect(dry.status == 0 && dry.stdout.contains("vs fp32, 16 boxes with masks: top-1 same"), "\(dry.stdout) \(dry.stderr)")
        #expect(try ModelDirectory.settings(path: model).precisionChecks.isEmpty, "--dry-run writes nothing")

        let r = try Child.run(binary, ["models", "check", model], env: env, dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let checks = try ModelDirectory.settings(path: model).precisionChecks
        #expect(try ModelDirectory.settings(path: model).acceptance == ModelDirectory.settings(path: RecognizeCommandTests.fixtures + "/model_tiny").acceptance,
                "the other settings are kept")
        if OneDNN.nativeInt8 {
            let int8 = try #require(checks[.int8])
            #expect(int8.passes && int8.summary.contains("(passes)") && r.stdout.contains("int8 vs fp32, 16 boxes with masks: " + int8.summary), "\(r.stdout)")
            #expect(r.stdout.contains("models.precision auto runs int8 here"), "\(r.stdout)")
            let auto = try recognize("auto"), explicit = try recognize("int8")
            #expect(auto.stderr.contains("precision auto: int8, its accuracy check passed on these weights"), "\(auto.stderr)")
            #expect(auto.scores == explicit.scores && auto.scores.count == 2, "auto ran int8")
            // oneDNN capped below VNNI: the record stands but the CPU cannot run it
            let capped = try recognize("auto", env: ["DNNL_MAX_CPU_ISA": "AVX512_CORE"])
            #expect(capped.stderr.contains("int8 passed its check but this CPU (oneDNN ISA avx512_core) has neither AVX512_VNNI nor AVX-VNNI"), "\(capped.stderr)")
        } else {
            #expect(checks[.int8] == nil && r.stdout.contains("int8: not checked: precision int8 asked for, but this CPU"), "\(r.stdout)")
        }
        if OneDNN.nativeBF16 { #expect(checks[.bf16]?.passes == true) }
        // one weight changed by one ulp: the record is not for these weights any more
        let head = model + "/head.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: head))
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        bytes[8 + headerLength] ^= 1
        try bytes.write(to: URL(fileURLWithPath: head))
        let changed = try recognize("auto")
        if OneDNN.nativeInt8 {
            #expect(changed.stderr.contains("the int8 check in \(model)/model.json was made on other weights"), "\(changed.stderr)")
            #expect(!changed.stderr.contains("precision auto: int8"))
        }
    }
}
