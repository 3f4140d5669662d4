// Ground truth for `eval-video`: per decoded frame (0-based), the objects with their boxes,
// track ids, optional class names and a don't-care mark. Two formats:
//  - make-shapes' video.json: {"frames": [{"index", "boxes" (xyxy), "labels", "tracks",
//    optional "visibility"}]}; a box less than `minVisibility` visible is don't-care;
//  - MOTChallenge gt.txt: `frame,id,x,y,w,h[,conf[,class[,visibility]]]`, frame 1-based,
//    box in 1-based pixels (xywh), conf 0 = don't-care; class numbers map to names through
//    a list given by the caller (line k / entry k = class k).
// Every problem is reported as "FILE:LINE: what".
import Foundation

/// An axis-aligned box in pixels, xyxy (right/bottom exclusive), in Double so that IoUs are
/// computed exactly as motmetrics computes them.
struct PixelBox: Sendable, Equatable, Codable {
    var x1, y1, x2, y2: Double
    var tuple: (Double, Double, Double, Double) { (x1, y1, x2, y2) }
}

struct TruthBox: Sendable, Equatable {
    var id: Int
    var box: PixelBox
    /// Class name (nil: unknown; then the object takes no part in label accuracy).
    var label: String?
    /// Don't care: neither a miss when unmatched nor a false positive for the box that
    /// covers it (MOTChallenge's conf 0 rows, barely visible make-shapes objects).
    var dontCare = false
}

struct GroundTruth: Sendable {
    /// "video.json" or "MOT gt.txt".
    var format: String
    /// Frame index (0-based, as in published messages) -> objects.
    var frames: [Int: [TruthBox]]
    /// Whether any object carries a class name (label accuracy is absent otherwise).
    var hasLabels: Bool { frames.values.contains { $0.contains { $0.label != nil } } }
    var lastFrame: Int? { frames.keys.max() }
}

struct TruthFileError: Error, CustomStringConvertible {
    var file: String
    var line: Int?
    var message: String
    var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

enum TruthLoader {
    /// Objects less visible than this (fraction of the shape on screen and unoccluded) are
    /// don't-care in video.json truth.
    static let minVisibility = 0.3

    /// Reads `path`: video.json when it starts with '{', else MOT gt.txt. `classNames[k-1]`
    /// names MOT class k (video.json carries its own names).
    static func load(_ path: String, classNames: [String?]? = nil) throws -> GroundTruth {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TruthFileError(file: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TruthFileError(file: path, line: nil, message: "not UTF-8 text")
        }
        if text.first(where: { !$0.isWhitespace }) == "{" {
            if classNames != nil {
                throw TruthFileError(file: path, line: nil, message: "class names (--labels/--class-names) are for MOT gt.txt; video.json names its labels")
            }
            return try shapesVideo(text, file: path)
        }
        return try mot(text, file: path, classNames: classNames)
    }

    // MARK: MOTChallenge gt.txt

    static func mot(_ text: String, file: String, classNames: [String?]?) throws -> GroundTruth {
        var frames: [Int: [TruthBox]] = [:]
        var seen: [Int: [Int: Int]] = [:]  // frame -> id -> line
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = n + 1
            let s = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if s.isEmpty || s.hasPrefix("#") { continue }
            func bad(_ m: String) -> TruthFileError { TruthFileError(file: file, line: line, message: m) }
            let f = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 6 else {
                throw bad("expected frame,id,x,y,w,h[,conf,class,visibility] (at least 6 comma-separated fields), got \(f.count): '\(s)'")
            }
            let names = ["frame", "id", "x", "y", "w", "h", "conf", "class", "visibility"]
            var v: [Double] = []
            for (k, field) in f.prefix(9).enumerated() {
                guard let x = Double(field), x.isFinite else { throw bad("\(names[k]) '\(field)' is not a number") }
                v.append(x)
            }
            func integer(_ k: Int) throws -> Int {
                guard v[k] == v[k].rounded(), abs(v[k]) < 1e9 else { throw bad("\(names[k]) '\(f[k])' is not a whole number") }
                return Int(v[k])
            }
            let frame = try integer(0), id = try integer(1)
            guard frame >= 1 else { throw bad("frame \(frame): MOTChallenge frames start at 1") }
            guard v[4] > 0, v[5] > 0 else { throw bad("box width and height must be positive, got w=\(f[4]) h=\(f[5])") }
            let conf = v.count > 6 ? v[6] : 1
            var label: String?
            if v.count > 7, let classNames {
                let c = try integer(7)
                if c >= 1 && c <= classNames.count { label = classNames[c - 1] }
            }
            if let first = seen[frame]?[id] {
                throw bad("id \(id) appears twice in frame \(frame) (first on line \(first))")
            }
            seen[frame, default: [:]][id] = line
            // 1-based pixel coordinates: the top-left pixel is (1, 1).
            let box = PixelBox(x1: v[2] - 1, y1: v[3] - 1, x2: v[2] - 1 + v[4], y2: v[3] - 1 + v[5])
            frames[frame - 1, default: []].append(TruthBox(id: id, box: box, label: label, dontCare: conf == 0))
        }
        if frames.isEmpty { throw TruthFileError(file: file, line: nil, message: "no rows (expected frame,id,x,y,w,h,conf,class,visibility lines)") }
        return GroundTruth(format: "MOT gt.txt", frames: frames)
    }

    /// Class names for MOT classes: a file with one name per line (line k = class k; an empty
    /// line leaves that class unnamed), or a comma-separated list.
    static func classNames(file: String?, list: String?) throws -> [String?]? {
        if let list {
            return list.split(separator: ",", omittingEmptySubsequences: false).map {
                let t = $0.trimmingCharacters(in: .whitespaces)
                return t.isEmpty ? nil : t
            }
        }
        guard let file else { return nil }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw TruthFileError(file: file, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        while lines.last == "" { lines.removeLast() }
        if lines.isEmpty { throw TruthFileError(file: file, line: nil, message: "no class names") }
        return lines.map { $0.isEmpty ? nil : $0 }
    }

    // MARK: make-shapes video.json

    static func shapesVideo(_ text: String, file: String) throws -> GroundTruth {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(text.utf8)) } catch {
            let why = jsonErrorText(error)
            throw TruthFileError(file: file, line: lineOfOffset(text, why), message: "not valid JSON: \(why)")
        }
        guard let root = json as? [String: Any], let list = root["frames"] as? [Any] else {
            throw TruthFileError(file: file, line: 1, message: "expected an object with a \"frames\" array (make-shapes video.json)")
        }
        var frames: [Int: [TruthBox]] = [:]
        for (n, item) in list.enumerated() {
            func bad(_ m: String, index: Int? = nil) -> TruthFileError {
                TruthFileError(file: file, line: lineOfFrame(text, index: index ?? n, position: n), message: "frames[\(n)]: \(m)")
            }
            guard let f = item as? [String: Any] else { throw bad("expected an object") }
            guard let index = (f["index"] as? NSNumber)?.intValue, index >= 0 else { throw bad("\"index\" must be a frame number >= 0") }
            guard let boxes = f["boxes"] as? [[Any]] else { throw bad("\"boxes\" must be an array of [x1, y1, x2, y2]", index: index) }
            guard let labels = f["labels"] as? [String], labels.count == boxes.count else {
                throw bad("\"labels\" must be \(boxes.count) strings, one per box", index: index)
            }
            guard let tracks = f["tracks"] as? [NSNumber], tracks.count == boxes.count else {
                throw bad("\"tracks\" must be \(boxes.count) track ids, one per box", index: index)
            }
            var visibility: [Double]?
            if let vis = f["visibility"] {
                guard let v = vis as? [NSNumber], v.count == boxes.count else {
                    throw bad("\"visibility\" must be \(boxes.count) numbers, one per box", index: index)
                }
                visibility = v.map(\.doubleValue)
            }
            if frames[index] != nil { throw bad("frame \(index) is listed twice", index: index) }
            var objects: [TruthBox] = []
            for (k, b) in boxes.enumerated() {
                let c = b.compactMap { ($0 as? NSNumber)?.doubleValue }
                guard c.count == 4, b.count == 4, c.allSatisfy(\.isFinite), c[2] > c[0], c[3] > c[1] else {
                    throw bad("box \(k) must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1", index: index)
                }
                let id = tracks[k].intValue
                if objects.contains(where: { $0.id == id }) { throw bad("track id \(id) appears twice", index: index) }
                objects.append(TruthBox(id: id, box: PixelBox(x1: c[0], y1: c[1], x2: c[2], y2: c[3]), label: labels[k],
                                           dontCare: (visibility?[k] ?? 1) < minVisibility))
            }
            frames[index] = objects
        }
        if frames.isEmpty { throw TruthFileError(file: file, line: 1, message: "\"frames\" is empty") }
        return GroundTruth(format: "video.json", frames: frames)
    }

    /// The line of frame `index`'s `"index": N` key (pretty-printed files), else of the
    /// `position`-th `"index"` key, else nil.
    static func lineOfFrame(_ text: String, index: Int, position: Int) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var count = 0, byPosition: Int?
        for (n, l) in lines.enumerated() {
            guard let r = l.range(of: "\"index\"") else { continue }
            let rest = l[r.upperBound...].drop { $0 == " " || $0 == ":" }
            if Int(rest.prefix { $0.isNumber }) == index { return n + 1 }
            if count == position { byPosition = n + 1 }
            count += 1
        }
        return byPosition
    }

    /// The line of "... around character N." (Foundation's parse errors count UTF-8 bytes from 0).
    static func lineOfOffset(_ text: String, _ message: String) -> Int? {
        guard let r = message.range(of: "character ") else { return nil }
        guard let n = Int(message[r.upperBound...].prefix { $0.isNumber }) else { return nil }
        return text.utf8.prefix(n).filter { $0 == UInt8(ascii: "\n") }.count + 1
    }

    /// Foundation's parse errors carry the position in their debug description.
    static func jsonErrorText(_ error: Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}
