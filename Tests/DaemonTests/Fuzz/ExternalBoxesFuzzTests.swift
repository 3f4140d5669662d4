// External-box messages, fuzzed through the decoder the receiver thread calls
// (ExternalBoxes.parse): every mutation kind has one outcome, accepted with exactly the
// values sent or refused with a message naming the field; random byte damage is either.
import Foundation
import FuzzSupport
import Testing
@testable import Daemon

@Suite("fuzz: external-box messages")
struct ExternalBoxesFuzzTests {
    static let streams: Set<String> = ["cam1", "cam2"]

    enum Outcome {
        case accepted(ExternalBoxes)
        case refused(String)  // a fragment of the message
        case either  // random byte damage: accepted (and then sane) or refused
    }

    static func valid(_ dice: inout Dice) -> [String: Any] {
        var m: [String: Any] = ["schema": SchemaVersion.externalBoxes, "stream": dice.pick(Array(streams).sorted())]
        if dice.int(2) == 0 { m["frame"] = dice.int(100_000) } else { m["pts"] = Double(dice.int(100_000)) / 8 }
        m["boxes"] = (0..<dice.int(6)).map { _ -> [String: Any] in
            let x = Double(dice.int(2000)) - 100, y = Double(dice.int(1200)) - 100
            var b: [String: Any] = ["box": [x, y, x + 1 + Double(dice.int(500)), y + 1 + Double(dice.int(500))]]
            if dice.int(2) == 0 { b["score"] = Double(dice.int(101)) / 100 }
            if dice.int(2) == 0 { b["label"] = dice.pick(["person", "car", "", "ünïcode ✓"]) }
            if dice.int(3) == 0 { b["id"] = "d\(dice.int(50))" }
            return b
        }
        return m
    }

    static func expected(_ m: [String: Any]) -> ExternalBoxes {
        ExternalBoxes(schema: m["schema"] as! String, stream: m["stream"] as! String, frame: m["frame"] as? Int, pts: m["pts"] as? Double,
                      boxes: (m["boxes"] as! [[String: Any]]).map {
                          ExternalBox(box: $0["box"] as! [Double], label: $0["label"] as? String, score: $0["score"] as? Double, id: $0["id"] as? String)
                      })
    }

    static func json(_ m: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])) }

    /// Case `i`: the payload, what was done, and its one allowed outcome.
    static func mutation(_ i: Int, _ dice: inout Dice) -> ([UInt8], String, Outcome) {
        var m = valid(&dice)
        var boxes = m["boxes"] as! [[String: Any]]
        if boxes.isEmpty && [1, 3, 4, 6].contains(i % 12) { boxes = [["box": [1.0, 2, 3, 4]]]; m["boxes"] = boxes }
        let b = boxes.isEmpty ? 0 : dice.int(boxes.count)
        switch i % 12 {
        case 0:
            return (json(m), "valid", .accepted(expected(m)))
        case 1:  // a field removed
            let (what, path): (String, String) = dice.pick([("schema", "schema"), ("stream", "stream"), ("boxes", "boxes"), ("box", "boxes[\(b)].box")])
            if what == "box" { boxes[b]["box"] = nil; m["boxes"] = boxes } else { m[what] = nil }
            return (json(m), "\(path) removed", .refused("missing field \(path)"))
        case 2:
            m["stream"] = dice.pick(["cam3", "CAM1", "", "cam1 ", "../cam1"])
            return (json(m), "stream \(m["stream"]!)", .refused("unknown stream '\(m["stream"]!)'"))
        case 3:  // a field of the wrong type
            let kinds: [(String, String, Any)] = [("stream", "stream", 5), ("frame", "frame", "7"), ("pts", "pts", "1.5"), ("boxes", "boxes", ["box": 1]),
                                                  ("box", "boxes[\(b)].box", "1,2,3,4"), ("box0", "boxes[\(b)].box[0]", "1"), ("label", "boxes[\(b)].label", 3),
                                                  ("score", "boxes[\(b)].score", "high"), ("id", "boxes[\(b)].id", [1]), ("frame", "frame", 1.5)]
            let (key, path, value) = dice.pick(kinds)
            switch key {
            case "box": boxes[b]["box"] = value
            case "box0": var bb = boxes[b]["box"] as! [Any]; bb[0] = value; boxes[b]["box"] = bb
            case "label", "score", "id": boxes[b][key] = value
            default: m[key] = value
            }
            m["boxes"] = key == "boxes" ? value : boxes
            return (json(m), "\(path) = \(value)", .refused(value is Double ? "frame 1.5 is not a whole number" : "wrong type at \(path)"))
        case 4:  // a box that is not [x1, y1, x2, y2] with x1 < x2, y1 < y2
            var bb = boxes[b]["box"] as! [Double]
            let what: String
            switch dice.int(4) {
            case 0: bb = [bb[2], bb[1], bb[0], bb[3]]; what = "x swapped"
            case 1: bb[3] = bb[1]; what = "zero height"
            case 2: bb.removeLast(); what = "3 numbers"
            default: bb.append(1); what = "5 numbers"
            }
            boxes[b]["box"] = bb
            m["boxes"] = boxes
            return (json(m), "boxes[\(b)] \(what)", .refused("boxes[\(b)].box must be [x1, y1, x2, y2] with x1 < x2, y1 < y2"))
        case 5:  // very large or very negative coordinates in order: accepted (the keyframe clips them)
            let big = dice.pick([1e300, 1e38, 3.5e38, 1e12])
            m["boxes"] = [["box": [-big, -big, big, big]]] + boxes
            return (json(m), "box ±\(big)", .accepted(expected(m)))
        case 6:
            let s = dice.pick([-0.01, 1.5, -1e300, 1e300])
            boxes[b]["score"] = s
            m["boxes"] = boxes
            return (json(m), "score \(s)", .refused("boxes[\(b)].score \(s) is outside 0...1"))
        case 7:
            if dice.int(2) == 0 {
                m["frame"] = -1 - dice.int(1000)
                return (json(m), "frame \(m["frame"]!)", .refused("frame \(m["frame"]!) is negative"))
            }
            m["frame"] = nil; m["pts"] = nil
            return (json(m), "no frame, no pts", .refused("needs frame or pts"))
        case 8:  // a field the schema does not have (additionalProperties: false)
            let name = dice.pick(["scroe", "Stream", "boxes2", "x"])
            if boxes.isEmpty || dice.int(2) == 0 {
                m[name] = 1
                return (json(m), "extra field \(name)", .refused("unknown field \(name)"))
            }
            boxes[b][name] = 1
            m["boxes"] = boxes
            return (json(m), "extra field boxes[\(b)].\(name)", .refused("unknown field boxes[\(b)].\(name)"))
        case 9:
            m["schema"] = dice.pick(["regionspotd/external-boxes/2", "", "regionspotd/regions/1"])
            return (json(m), "schema \(m["schema"]!)", .refused("schema '\(m["schema"]!)' is not \(SchemaVersion.externalBoxes)"))
        case 10:  // non-JSON numbers and too many boxes
            var text = String(decoding: json(m), as: UTF8.self)
            switch dice.int(3) {
            case 0:
                m["boxes"] = Array(repeating: ["box": [0.0, 0, 1, 1]], count: ExternalBoxes.maxBoxes + 1 + dice.int(10))
                return (json(m), "\((m["boxes"] as! [Any]).count) boxes", .refused("\((m["boxes"] as! [Any]).count) boxes (at most \(ExternalBoxes.maxBoxes))"))
            case 1:
                text = text.replacingOccurrences(of: "\"boxes\":[", with: "\"boxes\":[{\"box\":[NaN,0,1,1]},")
                return (Array(text.utf8), "NaN literal", .refused("not a JSON object of the external-boxes schema"))
            default:
                text = text.replacingOccurrences(of: "\"boxes\":[", with: "\"boxes\":[{\"box\":[0,0,1e400,1]},")
                return (Array(text.utf8), "1e400", .either)
            }
        default:  // random damage to the bytes
            var bytes = json(m)
            let what = ByteMutation.random(&bytes, &dice)
            return (bytes, what, .either)
        }
    }

    @Test("each mutation kind gives its one outcome, case by case (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func mutations() throws {
        let seed: UInt64 = 20_20
        var dice = Dice(s: seed)
        var counts = (accepted: 0, refused: 0)
        for i in 0..<FuzzScale.count(2000) {
            let (payload, what, outcome) = Self.mutation(i, &dice)
            let result = Result { () throws(ExternalBoxesError) -> ExternalBoxes in try ExternalBoxes.parse(payload, knownStreams: Self.streams) }
            let tag = "seed \(seed) case \(i) (\(what)): \(String(decoding: payload.prefix(300), as: UTF8.self))"
            switch (outcome, result) {
            case let (.accepted(m), .success(got)):
                counts.accepted += 1
                #expect(got == m, "\(tag)")
            case let (.refused(fragment), .failure(e)):
                counts.refused += 1
                #expect(e.description.contains(fragment), "\(tag): \(e)")
            case let (.either, .success(got)):
                counts.accepted += 1
                #expect(Self.streams.contains(got.stream) && got.boxes.allSatisfy { $0.box.count == 4 && $0.box.allSatisfy(\.isFinite) }, "\(tag)")
            case let (.either, .failure(e)):
                counts.refused += 1
                #expect(!e.description.isEmpty, "\(tag)")
            case let (_, .failure(e)):
                Issue.record("\(tag): refused (\(e)), expected \(outcome)")
            case (_, .success):
                Issue.record("\(tag): accepted, expected \(outcome)")
            }
        }
        fuzzReport("external boxes in process: \(FuzzScale.count(2000)) messages, \(counts.accepted) accepted, \(counts.refused) refused naming the field")
        #expect(counts.accepted >= FuzzScale.count(250) && counts.refused >= FuzzScale.count(1400), "\(counts)")
    }
}
