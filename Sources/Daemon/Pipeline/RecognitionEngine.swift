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
    private var _acceptance: RegionAcceptance
    /// The model's acceptance settings overridden by the configuration's.
    let acceptanceSettings: AcceptanceSettings
    let minProposalScore: Float
    /// The precision the encoders run at, and why when it was chosen or fell back.
    let precision: Precision
    let precisionNote: String?

    /// Loads the model directory and embeds the vocabulary (from the cache when the same
    /// text weights and vocabulary were embedded before).
    init(modelDirectory: String, kind: RecognizerKind, vocabulary: [VocabularyEntry], blasThreads: Int, lanes: Int = 1,
         precision: Precision = .fp32,
         acceptance: AcceptanceConfig = AcceptanceConfig(),
         cacheDirectory: String? = VocabularyEmbedder.defaultCacheDirectory, logger: Logger) throws {
        if blasThreads > 0 { Parallel.workers = blasThreads }
        lanePool = (0..<max(1, lanes)).map { _ in (NSLock(), FrameConverter()) }
        let t0 = Date()
        let (effective, note) = try precision.effective(modelDirectory: modelDirectory)
        (self.precision, precisionNote) = (effective, note)
        if let note {
            if precision == .auto { logger.info("\(note)") } else { logger.warning("\(note)") }
        }
        model = try ModelDirectory(path: modelDirectory, precision: effective)
        tokenizer = try model.tokenizer()
        self.cacheDirectory = cacheDirectory
        acceptanceSettings = model.settings.acceptance.overridden(by: acceptance.settings)
        minProposalScore = Float(acceptance.minProposalScore ?? 0)
        let background = Self.backgroundEntries(acceptanceSettings.background ?? [], vocabulary: vocabulary)
        let emb = try Self.embed(vocabulary + background, model: model, tokenizer: tokenizer, cache: cacheDirectory)
        guard let k = Recognizer.RecognizerKind(rawValue: kind.rawValue) else { throw RecognizerError("unknown recognizer \(kind.rawValue)") }
        recognizer = try RegionRecognizer(model: model, kind: k, vocabulary: emb)
        _trackerVocabulary = try Self.trackerVocabulary(emb, classes: vocabulary.count, logitScale: model.text.logitScale)
        _acceptance = RegionAcceptance(settings: acceptanceSettings, vocabularyCount: vocabulary.count, minProposalScore: minProposalScore)
        let a = acceptanceSettings
        logger.info("models loaded from \(modelDirectory): \(model.variant); vocabulary of \(vocabulary.count) classes + \(background.count) background \(emb.fromCache ? "from cache" : "embedded"); acceptance min_score \(a.minScore ?? 0), min_mask_iou \(a.minMaskIoU ?? 0); precision \(effective.rawValue); \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
    }

    static func embed(_ entries: [VocabularyEntry], model: ModelDirectory, tokenizer: CLIPTokenizer, cache: String?) throws -> VocabularyEmbeddings {
        let v = try Recognizer.Vocabulary(labels: entries.map(\.label), names: entries.map(\.names))
        return try VocabularyEmbedder.embed(v, text: model.text, tokenizer: tokenizer, textWeightsHash: model.text.weightsHash, cacheDirectory: cache)
    }

    /// Background prompts as vocabulary entries after the real classes. A name that is
    /// also a vocabulary class is left out of the background (the vocabulary asks for it:
    /// a user who adds "road" to a model whose background lists it wants roads published).
    static func backgroundEntries(_ names: [String], vocabulary: [VocabularyEntry]) -> [VocabularyEntry] {
        let used = Set(vocabulary.flatMap { [$0.label] + $0.names })
        return names.filter { !used.contains($0) }.map { VocabularyEntry(label: $0, names: [$0]) }
    }

    /// The first `classes` rows (the vocabulary; background prompts excluded), as the
    /// trackers score with them.
    static func trackerVocabulary(_ e: VocabularyEmbeddings, classes: Int, logitScale: Float) throws -> TrackerVocabulary {
        let d = e.embeddings.shape[1]
        return try TrackerVocabulary(names: Array(e.vocabulary.labels.prefix(classes)), embeddings: Array(e.embeddings.data.prefix(classes * d)),
                                     dim: d, scale: exp(logitScale))
    }

    /// The vocabulary as the trackers score with it (same embeddings, same scale).
    var trackerVocabulary: TrackerVocabulary { vocabLock.withLock { _trackerVocabulary } }
    var acceptance: RegionAcceptance { vocabLock.withLock { _acceptance } }
    var labels: [String] { trackerVocabulary.names }
    var kindName: String { recognizer.kind.rawValue }

    /// Embeds and switches to a new vocabulary (the background prompts kept); returns it
    /// for the trackers' re-scoring.
    func setVocabulary(_ entries: [VocabularyEntry]) throws -> TrackerVocabulary {
        let background = Self.backgroundEntries(acceptanceSettings.background ?? [], vocabulary: entries)
        let emb = try Self.embed(entries + background, model: model, tokenizer: tokenizer, cache: cacheDirectory)
        let tv = try Self.trackerVocabulary(emb, classes: entries.count, logitScale: model.text.logitScale)
        lock.withLock { recognizer.vocabulary = emb }
        vocabLock.withLock {
            _trackerVocabulary = tv
            _acceptance = RegionAcceptance(settings: acceptanceSettings, vocabularyCount: entries.count, minProposalScore: minProposalScore)
        }
        return tv
    }

    /// A keyframe job: encoders once; everything mode's boxes from the same SAM embedding
    /// when asked; the merge (priority, de-duplication, cap); then every kept box.
    /// Every region is judged by `acceptance`. A keyframe that cannot be converted to RGB
    /// gives a result without regions that says why (`failure`).
    func run(_ job: RecognitionJob, masks: Bool = false, lane: Int = 0) -> RecognitionResult {
        let (lock, converter) = lanePool[lane]
        var failure: String?
        var companions = 0
        let (kept, regions) = lock.withLock { () -> ([ProposalCandidate], [RecognizedRegion]) in
            let rgb: RGBImage
            do { rgb = try converter.rgb(job.picture) } catch { failure = "\(error)"; return ([], []) }
            let f = recognizer.features(rgb: rgb.bytes, width: rgb.width, height: rgb.height)
            var candidates = job.candidates
            if let e = job.everything {
                candidates += Proposals.everything(model.sam.automaticProposals(embedding: f.samEmbedding, input: f.samInput, config: e))
            }
            let kept = ProposalMerge.merge(candidates, config: job.merge, width: Float(rgb.width), height: Float(rgb.height))
            // clip-crop labels each crop on its own: company would cost a CLIP run a box for nothing
            let company = recognizer.kind == .regionspot ? Self.company(job.context, kept: kept.map(\.box), maxBoxes: job.merge.maxBoxes) : []
            companions = company.count
            let boxes = (kept.map(\.box) + company).map { [$0.x1, $0.y1, $0.x2, $0.y2] }
            return (kept, Array(recognizer.recognize(f, boxes: boxes, masks: masks, topK: 3).prefix(kept.count)))
        }
        let a = acceptance
        let verdicts = regions.indices.map { a.judge(logits: regions[$0].logits, maskIoU: regions[$0].iou, proposalScore: kept[$0].score) }
        return RecognitionResult(frame: job.frame, pts: job.pts, regions: regions, boxes: kept, verdicts: verdicts, failure: failure,
                                 tracks: job.tracks, crowded: job.crowded, company: companions, latency: Date().timeIntervalSince1970 - job.submitted)
    }

    /// The context boxes (RecognitionJob.context) recognized beside `kept` as company: those
    /// no kept box stands for (IoU below `sameIoU` with each, and with each other), within
    /// `maxBoxes` in all. A keyframe with nothing to look at has no company to give.
    static func company(_ context: [Box], kept: [Box], maxBoxes: Int, sameIoU: Float = 0.5) -> [Box] {
        guard !kept.isEmpty else { return [] }
        var out: [Box] = []
        for b in context where kept.count + out.count < maxBoxes
            && !kept.contains(where: { $0.iou(b) >= sameIoU }) && !out.contains(where: { $0.iou(b) >= sameIoU }) {
            out.append(b)
        }
        return out
    }

    /// Encoders once, then every box: labels, tokens, embeddings. Blocking.
    func recognize(rgb: [UInt8], width: Int, height: Int, boxes: [[Float]], masks: Bool = false) -> [RecognizedRegion] {
        lock.withLock {
            let f = recognizer.features(rgb: rgb, width: width, height: height)
            return recognizer.recognize(f, boxes: boxes, masks: masks, topK: 3)
        }
    }
}

extension AcceptanceConfig {
    /// The configuration's overrides as the model's settings type.
    var settings: AcceptanceSettings {
        AcceptanceSettings(minScore: minScore.map(Float.init), minMaskIoU: minMaskIoU.map(Float.init), background: background)
    }
}
