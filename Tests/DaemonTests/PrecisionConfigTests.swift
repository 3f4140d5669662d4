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
}
