import ArgumentParser
import Decode
import Foundation

/// `regionspotd probe URL`: decode a file to its end (or a live source for `--seconds`) and
/// print what it holds: codec, size, frame rate, decoded frames and keyframes, and with
/// `--motion-vectors` statistics of the codec's motion vectors.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Decode a source to its end and print what it holds.")

    @Argument(help: "A file path or a file:/rtsp:/rtsps: URL.") var url: String
    @Flag(help: "Print one JSON object (keys: codec, width, height, frameRate, frames, keyframes, seconds, ...).")
    var json = false
    @Flag(help: "Decode keyframes only (fast scan).") var keyframesOnly = false
    @Flag(help: "Export the codec's motion vectors and print their statistics.") var motionVectors = false
    @Option(help: "Stop after N seconds: of wall clock from the first frame for live sources, of media time for files.")
    var seconds: Double?
    @Option(help: "RTSP transport: tcp or udp.") var transport: String = "tcp"
    @Option(help: "Open timeout in seconds.") var openTimeout: Double = 10
    @Option(help: "Seconds without a packet before a live source counts as stalled.") var stallTimeout: Double = 5
    @Option(help: "Decoder threads (0 = FFmpeg chooses).") var threads: Int = 0

    func validate() throws {
        guard SourceOptions.Transport(rawValue: transport) != nil else {
            throw ValidationError("--transport must be tcp or udp, not '\(transport)'")
        }
        if let seconds, seconds <= 0 { throw ValidationError("--seconds must be positive") }
        guard openTimeout > 0, stallTimeout > 0 else { throw ValidationError("timeouts must be positive") }
    }

    func run() async throws {
        let options = SourceOptions(
            transport: SourceOptions.Transport(rawValue: transport) ?? .tcp, openTimeout: openTimeout,
            stallTimeout: stallTimeout, decoderThreads: threads, keyframesOnly: keyframesOnly,
            motionVectors: motionVectors)
        let (url, limit) = (self.url, self.seconds)
        LibraryLog.installForCommand(threshold: .warning)
        do {
            // FFmpeg blocks: run it on a thread of our own, not on the cooperative pool.
            let report = try await onThread("probe") { try ProbeReport.measure(url: url, options: options, seconds: limit) }
            print(json ? report.json() : report.text(withMotion: options.motionVectors))
        } catch let error as DecodeError {
            FileHandle.standardError.write(Data("regionspotd probe: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// What `probe` found; encoded as the `--json` object.
struct ProbeReport: Codable {
    struct MotionStats: Codable {
        var framesWithVectors = 0
        var vectors = 0
        var meanMagnitude = 0.0
        var maxMagnitude = 0.0
    }

    var source: String
    var container: String
    var codec: String
    var width: Int
    var height: Int
    var frameRate: Double
    var live: Bool
    var frames = 0
    var keyframes = 0
    /// Media time covered by the decoded frames (last - first PTS + one frame).
    var seconds = 0.0
    var wallSeconds = 0.0
    var pictureTypes: [String: Int] = [:]
    var corruptPackets = 0
    var corruptFrames = 0
    var estimatedPts = 0
    var motionVectors: MotionStats?

    static func measure(url: String, options: SourceOptions, seconds limit: Double?) throws -> ProbeReport {
        let start = Date()
        let source = try VideoSource(url: url, options: options)
        let info = source.info
        var r = ProbeReport(source: source.name, container: info.container, codec: info.codec, width: info.width,
                            height: info.height, frameRate: info.frameRate, live: info.isLive)
        var motion = options.motionVectors ? MotionStats() : nil
        var magnitudeSum = 0.0
        var firstPts: Double?
        var firstArrival = start
        var lastPts = 0.0
        while let frame = try source.nextFrame() {
            r.frames += 1
            if frame.isKeyframe { r.keyframes += 1 }
            if frame.ptsEstimated { r.estimatedPts += 1 }
            r.pictureTypes[frame.pictureType.rawValue, default: 0] += 1
            if firstPts == nil { firstPts = frame.pts; firstArrival = frame.arrival }
            lastPts = max(lastPts, frame.pts)
            if let mvs = frame.motionVectors, !mvs.isEmpty, motion != nil {
                motion!.framesWithVectors += 1
                motion!.vectors += mvs.count
                for v in mvs {
                    let m = Double((v.motionX * v.motionX + v.motionY * v.motionY).squareRoot())
                    magnitudeSum += m
                    motion!.maxMagnitude = max(motion!.maxMagnitude, m)
                }
            }
            if let limit {
                let elapsed = info.isLive ? Date().timeIntervalSince(firstArrival) : lastPts - (firstPts ?? lastPts)
                if elapsed >= limit { break }
            }
        }
        if let first = firstPts {
            r.seconds = lastPts - first + (info.frameRate > 0 ? 1 / info.frameRate : 0)
        }
        if var m = motion, m.vectors > 0 {
            m.meanMagnitude = magnitudeSum / Double(m.vectors)
            motion = m
        }
        r.motionVectors = motion
        r.corruptPackets = source.corruptPackets
        r.corruptFrames = source.corruptFrames
        r.wallSeconds = Date().timeIntervalSince(start)
        return r
    }

    func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    func text(withMotion: Bool) -> String {
        func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }
        var lines = [
            "source      \(source) (\(container)\(live ? ", live" : ""))",
            "codec       \(codec)",
            "size        \(width)x\(height)",
            "frame rate  \(f(frameRate)) fps",
            "frames      \(frames)  (" + pictureTypes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")",
            "keyframes   \(keyframes)",
            "seconds     \(f(seconds))",
            "decoded in  \(f(wallSeconds)) s (\(f(wallSeconds > 0 ? Double(frames) / wallSeconds : 0, 0)) fps)",
        ]
        if corruptPackets + corruptFrames > 0 {
            lines.append("corrupt     \(corruptPackets) packets skipped, \(corruptFrames) frames flagged")
        }
        if withMotion, let m = motionVectors {
            lines.append("motion      \(m.vectors) non-zero vectors in \(m.framesWithVectors) frames, "
                + "mean \(f(m.meanMagnitude, 2)) px, max \(f(m.maxMagnitude, 2)) px")
        }
        return lines.joined(separator: "\n")
    }
}

