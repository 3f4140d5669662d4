import ArgumentParser
import Decode
import Foundation
import Recognizer

// Shared by `train`, `eval` and `make-shapes`: image files -> RGB for the Recognizer's
// feature cache, a progress line (rewritten in place on a terminal), errors as messages.

/// Decodes an image file (FFmpeg) to packed RGB24 for the Recognizer.
func loadRGB(_ path: String) throws -> RGBInput {
    let img = try decodeImage(path: path)
    guard img.bytes.count == img.width * img.height * 3 else {
        throw RecognizerError("\(path): decoded to \(img.bytes.count) bytes, expected \(img.width)x\(img.height) RGB24")
    }
    return RGBInput(rgb: img.bytes, width: img.width, height: img.height)
}

/// A status line: on a terminal rewritten with \r, otherwise only full lines.
final class ProgressLine: @unchecked Sendable {  // used from one thread
    let tty: Bool
    let quiet: Bool
    init(quiet: Bool = false) { self.quiet = quiet; tty = !quiet && isatty(STDERR_FILENO) == 1 }
    static var silent: ProgressLine { ProgressLine(quiet: true) }
    private var lastLength = 0
    private var lastPrint = Date.distantPast

    /// Transient status (terminal only, at most 10 per second unless `force`).
    func update(_ s: String, force: Bool = false) {
        guard tty else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) > 0.1 else { return }
        lastPrint = now
        let pad = max(0, lastLength - s.count)
        FileHandle.standardError.write(Data(("\r" + s + String(repeating: " ", count: pad)).utf8))
        lastLength = s.count
    }

    /// A permanent line on stdout (clears the status line first).
    func line(_ s: String) {
        if quiet { return }
        if tty && lastLength > 0 {
            FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: lastLength) + "\r").utf8))
            lastLength = 0
        }
        print(s)
        fflush(nil)
    }

    /// A line on stderr only when not on a terminal (logs of long extraction runs).
    func log(_ s: String) { if !tty && !quiet { FileHandle.standardError.write(Data((s + "\n").utf8)) } }
}

/// Frozen features of a dataset through the on-disk cache, with progress.
func extractFeatures(_ data: DetectionDataset, images: String, model: ModelDirectory, cache: FeatureCache, label: String, progress: ProgressLine) throws -> [CachedFeatures] {
    let t0 = Date()
    var lastLog = 0, fromCache = 0
    let out = try cache.extract(data, imageDirectory: images, model: model, load: loadRGB) { p in
        fromCache = p.fromCache
        let rate = Double(p.done - p.fromCache) / max(Date().timeIntervalSince(t0), 1e-3)
        progress.update("\(label) features: \(p.done)/\(p.total) images (\(p.fromCache) cached, \(String(format: "%.1f", rate)) img/s) \(p.current)", force: p.done == p.total)
        if !progress.tty && (p.done - lastLog >= max(1, p.total / 10) || p.done == p.total) {
            lastLog = p.done
            progress.log("\(label) features: \(p.done)/\(p.total) images (\(p.fromCache) from cache)")
        }
    }
    var extras = ""
    if !cache.sampling.isEmpty {
        let kinds = out.flatMap(\.kinds)
        extras = " (+ " + [BoxKind.background, .poor, .loose].map { k in "\(kinds.filter { $0 == k }.count) \(k.name)" }.joined(separator: ", ") + ")"
    }
    progress.line("\(label): \(data.images.count) images, \(data.boxCount) boxes\(extras), \(data.categories.count) categories; features: \(fromCache) from cache, \(data.images.count - fromCache) computed in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s (cache \(cache.directory))")
    return out
}

/// The class text embeddings of `vocabulary` from the model's frozen text tower (cached).
func classEmbeddings(_ vocabulary: Vocabulary, model: ModelDirectory, cacheDirectory: String) throws -> Tensor {
    try VocabularyEmbedder.embed(vocabulary, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash, cacheDirectory: cacheDirectory).embeddings
}

/// Runs `body`, turning Recognizer/Decode errors into a one-line message and exit code 1.
func reportingErrors(_ command: String, _ body: () throws -> Void) throws {
    do { try body() } catch let e as RecognizerError {
        FileHandle.standardError.write(Data("regionspotd \(command): \(e.description)\n".utf8))
        throw ExitCode(1)
    } catch let e as DecodeError {
        FileHandle.standardError.write(Data("regionspotd \(command): \(e)\n".utf8))
        throw ExitCode(1)
    }
}
