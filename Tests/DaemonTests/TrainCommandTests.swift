import Foundation
import Testing

/// `make-shapes`, `train` and `eval` through the built binary on a small synthetic set:
/// the output model directory, the CSV, the cache reuse and the evaluation report.
@Suite("Training commands")
struct TrainCommandTests {
    @Test("make-shapes -> train (fresh head, val) -> eval --json; a second run reuses the feature cache")
    func trainAndEval() throws {
        let binary = try #require(Repo.binary, "regionspotd not built")
        let dir = TempDir()
        defer { dir.remove() }
        let fixtures = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures").path
        let shapes = dir.file("shapes"), base = dir.file("tiny"), out = dir.file("trained"), cache = dir.file("cache")
        let m = try Child.run(binary, ["make-shapes", "--out", shapes, "--count", "30", "--val-count", "10", "--seed", "3", "--max-shapes", "2",
                                       "--min-size", "56", "--max-size", "110", "--tiny-model", base, "--fixtures", fixtures], dir: dir, timeout: 120)
        #expect(m.status == 0, "make-shapes: \(m.stderr)")
        #expect(m.stdout.contains("wrote 30 images") && FileManager.default.fileExists(atPath: shapes + "/images/shape_00029.png"))
        let args = ["train", "--data", shapes + "/train.json", "--images", shapes + "/images", "--val", shapes + "/val.json", "--weights", base, "--out", out,
                    "--from-scratch", "--layers", "1", "--ffn", "32", "--epochs", "2", "--lr", "1e-3", "--seed", "5", "--cache", cache, "--threads", "1"]
        let t = try Child.run(binary, args, dir: dir, timeout: 300)
        #expect(t.status == 0, "train: \(t.stderr)")
        #expect(t.stdout.contains("train: 20 images") && t.stdout.contains("epoch 2/2: loss") && t.stdout.contains("val top-1"))
        for f in ["head.safetensors", "sam.safetensors", "clip.safetensors", "bpe_simple_vocab_16e6.txt.gz", "model.json", "vocabulary.txt", "training.csv"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + f), "missing \(f)")
        }
        let csv = try String(contentsOfFile: out + "/training.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 3 && csv[0].hasPrefix("epoch,steps,train_loss") && csv[2].hasPrefix("2,3,"))
        #expect(try String(contentsOfFile: out + "/vocabulary.txt", encoding: .utf8) == "red square\nblue circle\ngreen triangle\nyellow star\n")
        // features come from the cache the second time
        let again = try Child.run(binary, args + ["--epochs", "1"], dir: dir, timeout: 300)
        #expect(again.status == 0 && again.stdout.contains("epoch 1/1"), "train again: \(again.stderr)")
        #expect(t.stdout.contains("features: 0 from cache, 20 computed") && again.stdout.contains("features: 20 from cache, 0 computed") && again.stdout.contains("features: 10 from cache, 0 computed"), "\(again.stdout)")
        let e = try Child.run(binary, ["eval", "--data", shapes + "/val.json", "--images", shapes + "/images", "--weights", out, "--cache", cache, "--json"], dir: dir, timeout: 120)
        #expect(e.status == 0, "eval: \(e.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let top1 = try #require(obj["top1"] as? Double), top5 = try #require(obj["top5"] as? Double)
        #expect(top1 >= 0 && top1 <= 1 && top5 == 1 && (obj["boxes"] as? Int ?? 0) > 10)
        #expect((obj["ap"] as? [String: Any])?.keys.sorted() == ["blue circle", "green triangle", "red square", "yellow star"])
        // "is there an object here?": sigmoid distributions per kind, acceptance at min_score, detection AP
        #expect(obj["min_score"] as? Double == 0.5 && (obj["detection_ap"] as? [String: Any])?.count == 4 && obj["detection_mAP"] is Double)
        let scores = try #require(obj["scores"] as? [String: [String: Any]])
        #expect(Set(scores.keys) == ["object", "background", "poor", "loose"], "\(scores.keys)")
        #expect(scores["object"]?["count"] as? Int == obj["boxes"] as? Int && scores["loose"]?["count"] as? Int == obj["boxes"] as? Int)
        let bg = try #require(scores["background"]), poor = try #require(scores["poor"])
        #expect((bg["count"] as? Int ?? 0) + (poor["count"] as? Int ?? 0) > 5 && bg["rejected"] as? Double == 1 - (bg["accepted"] as? Double ?? -1))
        for (_, d) in scores { #expect((d["p10"] as? Double ?? 2) <= (d["median"] as? Double ?? -1) && (d["median"] as? Double ?? 2) <= (d["p90"] as? Double ?? -1)) }
        let all = try Child.run(binary, ["eval", "--data", shapes + "/val.json", "--images", shapes + "/images", "--weights", out, "--cache", cache, "--json", "--min-score", "0"], dir: dir, timeout: 120)
        let o0 = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
        #expect((o0["scores"] as? [String: [String: Any]])?["background"]?["accepted"] as? Double == 1, "min-score 0 accepts everything")
        #expect(t.stdout.contains("background, ") && t.stdout.contains(" poor, 0 loose)") && csv[0].hasSuffix(",val_objects_accepted,val_background_rejected,val_poor_rejected,val_loose_accepted"))
        // errors name the file and field
        let bad = dir.write("bad.json", #"{"images": [], "categories": [{"id": 1, "name": "a"}]}"#)
        let b = try Child.run(binary, ["eval", "--data", bad, "--images", shapes, "--weights", out, "--cache", cache], dir: dir)
        #expect(b.status == 1 && b.stderr.contains("bad.json: 'annotations' is missing or not a list of objects"))
    }
}
