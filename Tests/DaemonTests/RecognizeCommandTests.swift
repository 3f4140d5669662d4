// `regionspotd recognize` and `models info` through the built binary on the fixtures.
import Foundation
import Testing

@Suite("recognize and models info")
struct RecognizeCommandTests {
    static let fixtures = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures").path

    /// Raw bytes of one tensor of the end-to-end fixture.
    static func fixtureTensor(_ name: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/e2e_io.safetensors"))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        let entry = try #require(header[name] as? [String: Any])
        let offs = try #require(entry["data_offsets"] as? [Int])
        return data.subdata(in: (8 + n + offs[0])..<(8 + n + offs[1]))
    }

    /// The end-to-end fixture's image (200x300 RGB) as a PNG, via ffmpeg.
    static func fixtureImage(_ dir: TempDir) throws -> String {
        let raw = dir.file("e2e.rgb")
        try fixtureTensor("image").write(to: URL(fileURLWithPath: raw))
        let png = dir.file("e2e.png")
        let r = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "300x200", "-i", raw, png], dir: dir)
        try #require(r.status == 0)
        return png
    }

    @Test("the end-to-end fixture's image and boxes give the reference labels and scores")
    func referenceLabels() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let png = try Self.fixtureImage(dir)
        // boxes and expected labels/scores from tools/make_fixtures.py (e2e_io.safetensors)
        let boxes = ["10,20,140,180", "150,0,300,120", "0,100,300,200", "60.5,40.25,220.75,160.5", "250,150,299,199"]
        // fp32 pinned: this is the fp32 path's parity with the float64 reference (bf16's is PrecisionConfigTests')
        let r = try Child.run(binary, ["recognize", png, "--weights", Self.fixtures + "/model_tiny", "--vocab", "person,car,traffic light,dog-other,bicycle",
                                       "--json", "--precision", "fp32"] + boxes.flatMap { ["--box", $0] }, env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let regions = try #require(obj["regions"] as? [[String: Any]])
        #expect(regions.compactMap { $0["label"] as? String } == ["bicycle", "traffic light", "bicycle", "person", "person"])
        #expect(regions.allSatisfy { ($0["top"] as? [[String: Any]])?.count == 3 && $0["iou"] is Double })
        // PNG is lossless, so each box's best score matches the float64 reference's softmax
        let scores = regions.compactMap { $0["score"] as? Double }
        let ref = try Self.fixtureTensor("scores").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }  // [5, 5]
        let best = (0..<5).map { i in Double(ref[(i * 5)..<(i * 5 + 5)].max()!) }
        #expect(scores.count == 5)
        for (a, b) in zip(scores, best) { #expect(abs(a - b) <= 1e-4, "score \(a) vs reference \(b)") }
    }

    @Test("bad inputs name the problem")
    func errors() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let png = try Self.fixtureImage(dir)
        var r = try Child.run(binary, ["recognize", png, "--weights", dir.path, "--vocab", "a", "--box", "0,0,10,10"], dir: dir)
        #expect(r.status != 0 && r.stderr.contains("missing sam.safetensors"), "\(r.stderr)")
        r = try Child.run(binary, ["recognize", dir.file("nope.png"), "--weights", Self.fixtures + "/model_tiny", "--vocab", "a", "--box", "0,0,10,10"], dir: dir)
        #expect(r.status != 0 && r.stderr.contains("nope.png"), "\(r.stderr)")
        // A corrupt PNG: one line, ours, naming the file; FFmpeg's own "[png @ 0x..] Invalid
        // PNG signature" goes through the log at a level recognize does not print.
        let corrupt = dir.file("corrupt.png")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        bytes[1] = 0x51
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        r = try Child.run(binary, ["recognize", corrupt, "--weights", Self.fixtures + "/model_tiny", "--vocab", "a", "--box", "0,0,10,10"], dir: dir)
        let lines = r.stderr.split(separator: "\n")
        #expect(r.status != 0 && lines.count == 1 && lines[0].contains("corrupt.png") && !r.stderr.contains("[png"), "\(r.stderr)")
        r = try Child.run(binary, ["recognize", png, "--weights", Self.fixtures + "/model_tiny", "--vocab", "a", "--box", "10,10,5,5"], dir: dir)
        #expect(r.status != 0 && r.stderr.contains("--box 10,10,5,5"), "\(r.stderr)")
        r = try Child.run(binary, ["models", "info", Self.fixtures + "/model_tiny"], dir: dir)
        #expect(r.status == 0 && r.stdout.contains("RegionSpot head: tokens 32 -> width 128, 3 layers, 8 heads, FFN 256, embed 32"), "\(r.stdout)")
    }

    @Test("a box reaching past the image is clipped, reported clipped, and recognized as the clipped box; one outside is an error")
    func clippedBoxes() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let png = try Self.fixtureImage(dir)  // 300x200
        let base = ["recognize", png, "--weights", Self.fixtures + "/model_tiny", "--vocab", "person,car,bicycle"]
        let env = ["CACHE_DIRECTORY": dir.file("cache")]
        var r = try Child.run(binary, base + ["--json", "--box", "0,0,100000,100000", "--box=-20,50,120,150.5", "--box", "0,0,300,200"], env: env, dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let regions = try #require(obj["regions"] as? [[String: Any]])
        try #require(regions.count == 3)
        #expect(regions.map { $0["box"] as? [Double] } == [[0, 0, 300, 200], [0, 50, 120, 150.5], [0, 0, 300, 200]])
        #expect(regions[0]["clipped_from"] as? [Double] == [0, 0, 100_000, 100_000])
        #expect(regions[1]["clipped_from"] as? [Double] == [-20, 50, 120, 150.5])
        #expect(regions[2]["clipped_from"] == nil)
        // the recognizer used the clipped box: the same labels and scores as typing it
        #expect(regions[0]["label"] as? String == regions[2]["label"] as? String)
        #expect(regions[0]["score"] as? Double == regions[2]["score"] as? Double)
        // the verdict output is unchanged by clipping
        #expect(regions.allSatisfy { $0["accepted"] is Bool && $0["objectness"] is Double })

        r = try Child.run(binary, base + ["--box", "0,0,100000,100000", "--box", "10,10,50,50"], env: env, dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(r.stdout)")
        #expect(lines.dropFirst().first?.hasPrefix("[0,0,300,200] (clipped from 0,0,100000,100000) ") == true, "\(r.stdout)")
        #expect(lines.last?.hasPrefix("[10,10,50,50] ") == true && lines.last?.contains("clipped") == false, "\(r.stdout)")
        #expect(lines.dropFirst().allSatisfy { $0.contains("accepted") || $0.contains("would reject (") }, "\(r.stdout)")

        for outside in ["400,10,500,100", "-50,-50,0,10", "10,200,20,300"] {
            r = try Child.run(binary, base + ["--box", "10,10,50,50", "--box=\(outside)"], env: env, dir: dir)
            #expect(r.status != 0 && r.stderr.contains("--box \(outside): entirely outside the 300x200 image"), "\(r.stderr)")
        }
    }

    @Test("models info and recognize refuse a model with a NaN weight, naming the file, the tensor and the index")
    func nonFiniteWeight() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let model = dir.file("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for name in ["sam.safetensors", "clip.safetensors", "model.json", "bpe_simple_vocab_16e6.txt.gz"] {
            let source = URL(fileURLWithPath: Self.fixtures + "/model_tiny/" + name).resolvingSymlinksInPath().path  // the fixtures are links
            try FileManager.default.copyItem(atPath: source, toPath: model + "/" + name)
        }
        // head.safetensors with element 1234 of decoder.layers.0.linear1.weight (F16) set to NaN
        var data = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/model_tiny/head.safetensors"))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        let entry = try #require(header["decoder.layers.0.linear1.weight"] as? [String: Any])
        try #require(entry["dtype"] as? String == "F16")
        let at = 8 + n + (try #require((entry["data_offsets"] as? [Int])?.first)) + 2 * 1234
        data[at] = 0x00
        data[at + 1] = 0x7E
        try data.write(to: URL(fileURLWithPath: model + "/head.safetensors"))
        let expected = "\(model)/head.safetensors: decoder.layers.0.linear1.weight: element 1234 is NaN"
        var r = try Child.run(binary, ["models", "info", model], dir: dir)
        #expect(r.status != 0 && r.stderr.contains("regionspotd models info: " + expected), "\(r.stderr)")
        let png = try Self.fixtureImage(dir)
        r = try Child.run(binary, ["recognize", png, "--weights", model, "--vocab", "a", "--box", "0,0,10,10"], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir)
        #expect(r.status != 0 && r.stderr.contains(expected), "\(r.stderr)")
    }
}
