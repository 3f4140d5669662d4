// The models, loaded once: SAM + CLIP (+ RegionSpot head), the tokenizer and the embedded
// vocabulary (cached on disk). `recognize` is the whole per-keyframe inference; calls are
// serialized per lane (one model instance; one lane per recognizer worker, each with its
// own lock and converter; BLAS threads bounded by limits.blas_threads).
import Decode
import Foundation
import Logging
import Recognizer
import Temporal

final class RecognitionEngine: @unchecked Sendable {
    let model: ModelDirectory
    let recognizer: RegionRecognizer
    let tokenizer: CLIPTokenizer
    let cacheDirectory: String?
    /// One (lock, converter) per recognizer worker; lane 0 serves everything else.
    private let lanePool: [(lock: NSLock, converter: FrameConverter)]
    var lanes: Int { lanePool.count }
    private var lock: NSLock { lanePool[0].lock }
    private let vocabLock = NSLock()
    private var _trackerVocabulary: TrackerVocabulary

    /// Loads the model directory and embeds the vocabulary (from the cache when the same
    /// text weights and vocabulary were embedded before).
    init(modelDirectory: String, kind: RecognizerKind, vocabulary: [VocabularyEntry], blasThreads: Int, lanes: Int = 1,
         cacheDirectory: String? = VocabularyEmbedder.defaultCacheDirectory, logger: Logger) throws {
        if blasThreads > 0 { Parallel.workers = blasThreads }
        lanePool = (0..<max(1, lanes)).map { _ in (NSLock(), FrameConverter()) }
        let t0 = Date()
        model = try ModelDirectory(path: modelDirectory)
        tokenizer = try model.tokenizer()
        self.cacheDirectory = cacheDirectory
        let emb = try Self.embed(vocabulary, model: model, tokenizer: tokenizer, cache: cacheDirectory)
        guard let k = Recognizer.RecognizerKind(rawValue: kind.rawValue) else { throw RecognizerError("unknown recognizer \(kind.rawValue)") }
        recognizer = try RegionRecognizer(model: model, kind: k, vocabulary: emb)
        _trackerVocabulary = try Self.trackerVocabulary(emb, logitScale: model.text.logitScale)
        logger.info("models loaded from \(modelDirectory): \(model.variant); vocabulary of \(emb.vocabulary.labels.count) classes \(emb.fromCache ? "from cache" : "embedded"); \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
    }

    static func embed(_ entries: [VocabularyEntry], model: ModelDirectory, tokenizer: CLIPTokenizer, cache: String?) throws -> VocabularyEmbeddings {
        let v = try Recognizer.Vocabulary(labels: entries.map(\.label), names: entries.map(\.names))
        return try VocabularyEmbedder.embed(v, text: model.text, tokenizer: tokenizer, textWeightsHash: model.text.weightsHash, cacheDirectory: cache)
    }

    static func trackerVocabulary(_ e: VocabularyEmbeddings, logitScale: Float) throws -> TrackerVocabulary {
        try TrackerVocabulary(names: e.vocabulary.labels, embeddings: e.embeddings.data, dim: e.embeddings.shape[1], scale: exp(logitScale))
    }

    /// The vocabulary as the trackers score with it (same embeddings, same scale).
    var trackerVocabulary: TrackerVocabulary { vocabLock.withLock { _trackerVocabulary } }
    var labels: [String] { recognizer.vocabulary.vocabulary.labels }
    var kindName: String { recognizer.kind.rawValue }

    /// Embeds and switches to a new vocabulary; returns it for the trackers' re-scoring.
    func setVocabulary(_ entries: [VocabularyEntry]) throws -> TrackerVocabulary {
        let emb = try Self.embed(entries, model: model, tokenizer: tokenizer, cache: cacheDirectory)
        let tv = try Self.trackerVocabulary(emb, logitScale: model.text.logitScale)
        lock.withLock { recognizer.vocabulary = emb }
        vocabLock.withLock { _trackerVocabulary = tv }
        return tv
    }

    /// A keyframe job: encoders once; everything mode's boxes from the same SAM embedding
    /// when asked; the merge (priority, de-duplication, cap); then every kept box.
    /// A keyframe that cannot be converted to RGB gives a result without regions.
    func run(_ job: RecognitionJob, masks: Bool = false, lane: Int = 0) -> RecognitionResult {
        let (lock, converter) = lanePool[lane]
        let (kept, regions) = lock.withLock { () -> ([ProposalCandidate], [RecognizedRegion]) in
            guard let rgb = try? converter.rgb(job.picture) else { return ([], []) }
            let f = recognizer.features(rgb: rgb.bytes, width: rgb.width, height: rgb.height)
            var candidates = job.candidates
            if let e = job.everything {
                candidates += Proposals.everything(model.sam.automaticProposals(embedding: f.samEmbedding, input: f.samInput, config: e))
            }
            let kept = ProposalMerge.merge(candidates, config: job.merge, width: Float(rgb.width), height: Float(rgb.height))
            let boxes = kept.map { [$0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2] }
            return (kept, recognizer.recognize(f, boxes: boxes, masks: masks, topK: 3))
        }
        return RecognitionResult(frame: job.frame, pts: job.pts, regions: regions, boxes: kept,
                                 tracks: job.tracks, latency: Date().timeIntervalSince1970 - job.submitted)
    }

    /// Encoders once, then every box: labels, tokens, embeddings. Blocking.
    func recognize(rgb: [UInt8], width: Int, height: Int, boxes: [[Float]], masks: Bool = false) -> [RecognizedRegion] {
        lock.withLock {
            let f = recognizer.features(rgb: rgb, width: width, height: height)
            return recognizer.recognize(f, boxes: boxes, masks: masks, topK: 3)
        }
    }
}
