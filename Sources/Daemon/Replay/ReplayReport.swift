// Replay's human-facing text on stderr: a progress line rewritten in place while a file
// runs (only on a terminal), and a summary per file and for the whole run.
import Foundation

final class ReplayProgress {
    let enabled: Bool
    private var shown = false
    init(enabled: Bool) { self.enabled = enabled }

    /// "cam1  412/1500 frames  27.5%  38.2 fps  9 recognitions  ETA 0:28"
    func show(_ s: ReplaySession.Summary) {
        guard enabled else { return }
        let fps = s.wallSeconds > 0 ? Double(s.frames) / s.wallSeconds : 0
        var line = "\(s.stream)  \(s.frames)"
        if let total = s.totalFrames, total > 0 {
            line += "/\(total) frames  \(String(format: "%.1f", min(100, 100 * Double(s.frames) / Double(total))))%"
        } else {
            line += " frames"
        }
        line += "  \(String(format: "%.1f", fps)) fps  \(s.recognitions) recognitions"
        if let total = s.totalFrames, fps > 0, total > s.frames {
            line += "  ETA \(ReplayReport.duration(Double(total - s.frames) / fps))"
        }
        FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8))
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        shown = false
    }
}

enum ReplayReport {
    /// A file's summary, several lines.
    static func file(_ s: ReplaySession.Summary) -> String {
        var out = "\(s.file) (stream \(s.stream))"
        if let f = s.failure { out += ": FAILED: \(f)" }
        out += "\n  frames \(s.frames) (\(String(format: "%.2f", s.mediaSeconds)) s of video), keyframes recognized \(s.recognitions), tracks \(s.tracks)\n"
        out += "  labels: \(labels(s.labels))\n"
        let ran = s.encoderReasons.values.reduce(0, +)
        if ran + s.encoderRests > 0 {
            let why = s.encoderReasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            out += "  encoders ran on \(ran) of \(ran + s.encoderRests) keyframes looked at (\(why.joined(separator: ", ")))\n"
        }
        if let p95 = s.labelAges.quantile(0.95), let max = s.labelAges.max {
            out += "  label age: p95 \(String(format: "%.1f", p95)) s, max \(String(format: "%.1f", max)) s (keyframes.max_interval \(String(format: "%g", s.maxInterval)) s)\n"
        }
        out += "  wall \(String(format: "%.2f", s.wallSeconds)) s, \(speed(media: s.mediaSeconds, wall: s.wallSeconds))"
        if s.annotatedFrames > 0 { out += ", \(s.annotatedFrames) frames annotated" }
        if s.snapshots > 0 { out += ", \(s.snapshots) snapshots" }
        return out + "\n"
    }

    /// The whole run.
    static func total(_ all: [ReplaySession.Summary], files: Int, wall: Double) -> String {
        let failed = all.filter { $0.failure != nil }.count + (files - all.count)
        let frames = all.reduce(0) { $0 + $1.frames }, recs = all.reduce(0) { $0 + $1.recognitions }
        let media = all.reduce(0.0) { $0 + $1.mediaSeconds }
        var labels: [String: (tracks: Int, regions: Int)] = [:]
        for s in all { for (k, v) in s.labels { labels[k, default: (0, 0)].tracks += v.tracks; labels[k, default: (0, 0)].regions += v.regions } }
        return "total: \(files) files (\(failed) failed), frames \(frames), keyframes recognized \(recs), tracks \(all.reduce(0) { $0 + $1.tracks })\n"
            + "  labels: \(Self.labels(labels))\n"
            + "  wall \(String(format: "%.2f", wall)) s, \(speed(media: media, wall: wall))\n"
    }

    /// "person 3 tracks / 412 regions, car 1 track / 80 regions", most regions first.
    static func labels(_ l: [String: (tracks: Int, regions: Int)]) -> String {
        guard !l.isEmpty else { return "none" }
        return l.sorted { $0.value.regions != $1.value.regions ? $0.value.regions > $1.value.regions : $0.key < $1.key }
            .map { "\($0.key) \($0.value.tracks) track\($0.value.tracks == 1 ? "" : "s") / \($0.value.regions) regions" }
            .joined(separator: ", ")
    }

    static func speed(media: Double, wall: Double) -> String {
        guard wall > 0, media > 0 else { return "throughput n/a" }
        return "\(String(format: "%.2f", media / wall))x real time"
    }

    /// "1:05" or "1:02:05".
    static func duration(_ t: Double) -> String {
        let s = Int(t.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Label ages (seconds) in 0.1 s bins, fixed memory however long the replay: an hour of
/// `--loop` publishes millions of regions.
struct AgeHistogram: Sendable, Equatable {
    static let bin = 0.1
    private(set) var counts = [Int](repeating: 0, count: 6_001)  // 0-600 s, then one overflow bin
    private(set) var total = 0
    private(set) var max: Double?

    mutating func add(_ age: Double) {
        guard age.isFinite else { return }
        let a = Swift.max(0, age)
        counts[Swift.min(counts.count - 1, Int(a / Self.bin))] += 1
        total += 1
        max = Swift.max(max ?? 0, a)
    }

    /// The upper edge of the bin holding the q-quantile (never above the largest age seen);
    /// nil when empty.
    func quantile(_ q: Double) -> Double? {
        guard total > 0, let max else { return nil }
        let rank = Swift.max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if seen >= rank { return i == counts.count - 1 ? max : Swift.min(max, Double(i + 1) * Self.bin) }
        }
        return max
    }
}
