// eval-video's MOTChallenge path: the gt.txt parser and the scorer against PyPI motmetrics
// 1.4.0 (tools/check_motmetrics_gt.py wrote Tests/TemporalTests/Fixtures/motchallenge/).
import Foundation
import Testing
@testable import Daemon

@Suite("eval-video: MOTChallenge gt.txt")
struct MOTChallengeTruthTests {
    static let dir = Repo.root.appendingPathComponent("Tests/TemporalTests/Fixtures/motchallenge").path

    /// hyp.txt (MOTChallenge rows) as published regions per 0-based frame.
    static func hypotheses(_ path: String, classNames: [String?]?) throws -> [Int: [Hypothesis]] {
        let h = try TruthLoader.mot(try String(contentsOfFile: path, encoding: .utf8), file: path, classNames: classNames)
        return h.frames.mapValues { $0.map { Hypothesis(id: $0.id, box: $0.box, label: $0.label ?? "") } }
    }

    static func score(classNames: [String?]?) throws -> VideoScore {
        let truth = try TruthLoader.load(dir + "/gt.txt", classNames: classNames)
        let hyps = try hypotheses(dir + "/hyp.txt", classNames: classNames)
        let last = max(truth.lastFrame ?? 0, hyps.keys.max() ?? 0)
        return VideoScorer.score(truth: truth, frames: Array(0...last), published: hyps, iouThreshold: 0.5)
    }

    @Test("gt.txt + hyp.txt: every number equals motmetrics' (counts exactly, ratios to 1e-9), label accuracy included")
    func agreesWithMotmetrics() throws {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.dir + "/expected.json"))) as? [String: Any])
        #expect(doc["motmetrics"] as? String == "1.4.0")
        let expected = try #require(doc["expected"] as? [String: Any])
        let names = try TruthLoader.classNames(file: Self.dir + "/classes.txt", list: nil)
        #expect(names == ["red square", "blue circle", nil, "yellow star"])
        let s = try Self.score(classNames: names)
        let got = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as? [String: Any])
        #expect(expected.count >= 24)
        for (k, e) in expected {
            let g = try #require(got[k] as? NSNumber, "\(k) missing in eval-video's JSON")
            let v = try #require(e as? NSNumber, "\(k): \(e)")
            #expect(abs(g.doubleValue - v.doubleValue) < 1e-9, "\(k): eval-video \(g) vs motmetrics \(v)")
        }
        // The fixture exercises what it is for.
        #expect(s.dontCareObjects > 0 && s.regionsOnDontCare > 0 && s.idSwitches > 0 && s.labelCorrect < s.labelPairs)
        #expect(s.labelPairs < s.truePositives, "objects of the unnamed class 3 take no part in label accuracy")
    }

    @Test("without class names label accuracy is absent (null in JSON); the MOT numbers do not change")
    func noClassNames() throws {
        let named = try Self.score(classNames: try TruthLoader.classNames(file: Self.dir + "/classes.txt", list: nil))
        let plain = try Self.score(classNames: nil)
        #expect(plain.labelAccuracy == nil && plain.labelPairs == 0)
        #expect(plain.mota == named.mota && plain.idf1 == named.idf1 && plain.truePositives == named.truePositives)
        let json = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(json.contains("\"label_accuracy\":null"))
        #expect(EvalVideoCommand.table(plain, video: "v.mp4", truth: "gt.txt", format: "MOT gt.txt", recognitions: 0, notDecoded: 0)
            .contains("label accuracy       absent"))
    }

    @Test("rows: 1-based xywh to 0-based xyxy, conf 0 = don't care, class k named by entry k, comments and blank lines skipped")
    func parse() throws {
        let text = "# comment\n1,7,11,21,30,40,1,2,0.8\n\n1,8,1,1,10,10,0,1,0.1\n3,7,12.5,21,30,40\n2,9,5,5,10,10,1,5,1\n"
        let t = try TruthLoader.mot(text, file: "gt.txt", classNames: ["a", "b"])
        #expect(t.frames.keys.sorted() == [0, 1, 2])
        #expect(t.frames[0] == [TruthBox(id: 7, box: PixelBox(x1: 10, y1: 20, x2: 40, y2: 60), label: "b"),
                                TruthBox(id: 8, box: PixelBox(x1: 0, y1: 0, x2: 10, y2: 10), label: "a", dontCare: true)])
        #expect(t.frames[2] == [TruthBox(id: 7, box: PixelBox(x1: 11.5, y1: 20, x2: 41.5, y2: 60), label: nil)])
        #expect(t.frames[1]?.first?.label == nil, "class 5 has no name")
        #expect(try TruthLoader.classNames(file: nil, list: "a, b,,d") == ["a", "b", nil, "d"])
        #expect(try TruthLoader.classNames(file: nil, list: nil) == nil)
    }

    @Test("bad rows: the error names file and line and says what is wrong")
    func errors() throws {
        let cases: [(String, String)] = [
            ("1,1,1,1,5,5\n1,2,3\n", "gt.txt:2: expected frame,id,x,y,w,h"),
            ("\n\n1,1,x,1,5,5\n", "gt.txt:3: x 'x' is not a number"),
            ("0,1,1,1,5,5\n", "gt.txt:1: frame 0: MOTChallenge frames start at 1"),
            ("1,1.5,1,1,5,5\n", "gt.txt:1: id '1.5' is not a whole number"),
            ("1,1,1,1,0,5\n", "gt.txt:1: box width and height must be positive"),
            ("1,1,1,1,5,5\n2,1,1,1,5,5\n1,1,2,2,5,5\n", "gt.txt:3: id 1 appears twice in frame 1 (first on line 1)"),
            ("# nothing\n", "gt.txt: no rows"),
        ]
        for (text, message) in cases {
            do {
                _ = try TruthLoader.mot(text, file: "gt.txt", classNames: nil)
                Issue.record("no error for \(text.debugDescription)")
            } catch let e as TruthFileError {
                #expect(e.description.hasPrefix(message), "\(e.description)")
            }
        }
        // Through load(): a missing file, and class names given for video.json.
        let tmp = TempDir()
        defer { tmp.remove() }
        #expect(throws: TruthFileError.self) { try TruthLoader.load(tmp.file("missing.txt")) }
        // video.json: a syntax error is placed on its line; a box of the wrong shape on its frame's.
        let broken = tmp.write("broken.json", "{\"frames\": [\n {\"index\": 0,\n  \"boxes\": [[1,2,3,4]] \"labels\": []}\n]}\n")
        #expect(throws: TruthFileError.self) { try TruthLoader.load(broken) }
        do { _ = try TruthLoader.load(broken) } catch let e as TruthFileError {
            #expect(e.description.hasPrefix("\(broken):3: not valid JSON"), "\(e.description)")
        }
        let json = tmp.write("video.json", "{\"frames\": [{\"index\": 0, \"boxes\": [], \"labels\": [], \"tracks\": []}]}")
        do {
            _ = try TruthLoader.load(json, classNames: ["a"])
            Issue.record("class names accepted for video.json")
        } catch let e as TruthFileError {
            #expect(e.description.contains("are for MOT gt.txt"))
        }
    }
}
