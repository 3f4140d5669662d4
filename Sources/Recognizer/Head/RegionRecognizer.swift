import Foundation

/// Which path labels a region.
public enum RecognizerKind: String, Sendable, Codable, CaseIterable {
    /// SAM region token + CLIP feature map through the trained RegionSpot head.
    case regionspot
    /// Zero-training fallback: each box's crop through CLIP's image tower.
    case clipCrop = "clip-crop"
}

public struct ScoredLabel: Sendable, Equatable, Codable {
    public var label: String
    public var score: Float
}

/// One recognized region.
public struct RecognizedRegion: Sendable {
    public var box: [Float]  // xyxy, source pixels
    public var label: String
    public var score: Float
    public var top: [ScoredLabel]
    public var iou: Float  // SAM's predicted IoU of mask 0
    public var regionToken: [Float]  // SAM, [C]
    public var embedding: [Float]  // L2-normalized semantic embedding, [E]
    public var scores: [Float]  // per vocabulary class (the recognizer's `scoring`)
    public var logits: [Float]  // per vocabulary class: exp(logit_scale) x cosine
    public var mask: [Bool]?  // source-size mask, when asked for
    public var recognizer: RecognizerKind
}

/// The whole inference path for one image: encoders once, then any number of boxes.
public final class RegionRecognizer: @unchecked Sendable {  // vocabulary swaps are locked
    public let model: ModelDirectory
    public let kind: RecognizerKind
    public var scoring: Scoring = .softmax
    private var _vocabulary: VocabularyEmbeddings
    private let lock = NSLock()

    public init(model: ModelDirectory, kind: RecognizerKind, vocabulary: VocabularyEmbeddings) throws(RecognizerError) {
        if kind == .regionspot && model.head == nil {
            throw RecognizerError("model directory \(model.path): no head.safetensors, so only the clip-crop recognizer is available")
        }
        self.model = model
        self.kind = kind
        self._vocabulary = vocabulary
    }

    public var vocabulary: VocabularyEmbeddings {
        get { lock.withLock { _vocabulary } }
        set { lock.withLock { _vocabulary = newValue } }
    }

    /// Image-side work shared by every box of a frame.
    public struct Features: Sendable {
        public var samInput: SAM.Input
        public var samEmbedding: Tensor  // [G*G, C]
        public var clipFeatureMap: Tensor?  // [1 + g*g, W] (regionspot)
        public var rgb: [UInt8]  // packed RGB24 at source size (clip-crop, masks)
        public var width: Int, height: Int
    }

    public func features(rgb: [UInt8], width: Int, height: Int) -> Features {
        let input = model.sam.preprocess(rgb: rgb, width: width, height: height)
        let emb = model.sam.encode(input)
        var fm: Tensor? = nil
        if kind == .regionspot {
            fm = model.vision(model.vision.preprocess(rgb: rgb, width: width, height: height, size: model.clipInputSize)).featureMap
        }
        return Features(samInput: input, samEmbedding: emb, clipFeatureMap: fm, rgb: rgb, width: width, height: height)
    }

    /// Boxes (xyxy, source pixels) -> recognized regions, in the same order.
    public func recognize(_ f: Features, boxes: [[Float]], masks: Bool = false, topK k: Int = 3) -> [RecognizedRegion] {
        guard !boxes.isEmpty else { return [] }
        let sam = model.sam.decode(embedding: f.samEmbedding, input: f.samInput, boxes: boxes, masks: masks)
        let embeddings: Tensor
        switch kind {
        case .regionspot:
            embeddings = model.head!.embed(regionTokens: sam.regionTokens, featureMap: f.clipFeatureMap!).l2Normalized(eps: 1e-7)
        case .clipCrop:
            let crops = boxes.map { cropForCLIP(f, box: $0) }
            embeddings = model.vision.embed(crops).l2Normalized(eps: 1e-7)
        }
        let vocab = vocabulary
        let lg = regionLogits(embeddings: embeddings, classEmbeddings: vocab.embeddings, logitScale: model.text.logitScale)
        let sc = Recognizer.scores(logits: lg, scoring)
        let best = Recognizer.topK(sc, k: max(1, min(k, vocab.vocabulary.labels.count)))
        let c = model.sam.config.promptDim, e = embeddings.shape[1], nk = vocab.vocabulary.labels.count
        return boxes.indices.map { i in
            let top = best[i].map { ScoredLabel(label: vocab.vocabulary.labels[$0.index], score: $0.score) }
            return RecognizedRegion(
                box: boxes[i], label: top[0].label, score: top[0].score, top: top, iou: sam.iou[i],
                regionToken: Array(sam.regionTokens.data[(i * c)..<((i + 1) * c)]),
                embedding: Array(embeddings.data[(i * e)..<((i + 1) * e)]),
                scores: Array(sc.data[(i * nk)..<((i + 1) * nk)]),
                logits: Array(lg.data[(i * nk)..<((i + 1) * nk)]),
                mask: sam.lowResMasks.map { lm in model.sam.fullMask(lowRes: Array(lm.data[(i * lm.shape[1] * lm.shape[2])..<((i + 1) * lm.shape[1] * lm.shape[2])]), input: f.samInput) },
                recognizer: kind)
        }
    }

    /// Scores of normalized embeddings [N, E] against the current vocabulary.
    public func scores(embeddings: Tensor, vocab: VocabularyEmbeddings? = nil) -> Tensor {
        let v = vocab ?? vocabulary
        return Recognizer.scores(logits: regionLogits(embeddings: embeddings, classEmbeddings: v.embeddings, logitScale: model.text.logitScale), scoring)
    }

    /// The box's pixels (clamped to the frame, at least 1x1) as CLIP input.
    func cropForCLIP(_ f: Features, box: [Float]) -> Tensor {
        let x0 = max(0, min(f.width - 1, Int(box[0].rounded(.down)))), y0 = max(0, min(f.height - 1, Int(box[1].rounded(.down))))
        let x1 = max(x0 + 1, min(f.width, Int(box[2].rounded(.up)))), y1 = max(y0 + 1, min(f.height, Int(box[3].rounded(.up))))
        let w = x1 - x0, h = y1 - y0
        var crop = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = ((y0 + y) * f.width + x0) * 3
            crop.replaceSubrange((y * w * 3)..<((y + 1) * w * 3), with: f.rgb[src..<(src + w * 3)])
        }
        return model.vision.preprocess(rgb: crop, width: w, height: h)
    }
}
