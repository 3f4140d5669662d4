import ArgumentParser
import Foundation
import Recognizer

/// `regionspotd train`: teaches the RegionSpot integration module new categories from a
/// COCO-style detection set, with SAM and CLIP frozen (their outputs are computed once
/// per image and cached on disk). Writes a model directory that every command loads.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the RegionSpot head on labeled boxes (SAM and CLIP frozen).")

    @Option(help: "COCO-style detection JSON (images, annotations with bbox + category_id, categories).") var data: String
    @Option(help: "Directory holding the images named in --data.") var images: String
    @Option(help: "Base model directory (SAM, CLIP, tokenizer; its head is the starting point).") var weights: String
    @Option(help: "Output model directory (created; SAM/CLIP/tokenizer linked from the base).") var out: String
    @Option(help: "Epochs.") var epochs: Int = 12
    @Option(help: "Validation COCO JSON (accuracy printed per epoch).") var val: String?
    @Option(help: "Images of --val (default: --images).") var valImages: String?
    @Option(help: "Peak learning rate (AdamW).") var lr: Double = 1e-4
    @Option(help: "AdamW weight decay.") var weightDecay: Double = 1e-4
    @Option(help: "Images per mini-batch (all their boxes).") var batchImages: Int = 8
    @Option(help: "Seed of initialization and shuffling.") var seed: UInt64 = 0
    @Flag(help: "Start from a freshly initialized head instead of the base model's.") var fromScratch = false
    @Option(help: "Decoder layers of a fresh head.") var layers: Int = 3
    @Option(help: "FFN width of a fresh head (RegionSpot: 2048).") var ffn: Int = 2048
    @Flag(help: "Store head.safetensors in float16 (half the size).") var half = false
    @Option(help: "Feature and vocabulary cache directory (default: the daemon's cache directory).") var cache: String?
    @Option(help: "Threads for BLAS and kernels (default: all cores).") var threads: Int?
    @Option(help: "Negative boxes (background + poor, all-zero focal-loss targets) per annotated box, sampled per image (0: none).") var negatives: Double = 1
    @Option(help: "Share of the negatives that are poor boxes (overlapping an object with IoU < 0.4); the rest are background boxes.") var poorFraction: Double = 0.5
    @Option(help: "Loose boxes (IoU 0.6-0.8, containing the object) per annotated box, trained with the object's class.") var loosePositives: Int = 0
    @Option(help: "Seed of the negative and loose boxes (fixed per image; part of the feature cache key).") var negativesSeed: UInt64 = 0

    func validate() throws {
        guard epochs > 0, batchImages > 0, lr > 0, layers > 0, ffn > 0 else { throw ValidationError("--epochs, --batch-images, --lr, --layers and --ffn must be positive") }
        guard negatives >= 0, negatives <= 20, (0...1).contains(poorFraction), (0...5).contains(loosePositives) else {
            throw ValidationError("need 0 <= --negatives <= 20, 0 <= --poor-fraction <= 1, 0 <= --loose-positives <= 5")
        }
    }

    func run() async throws {
        LibraryLog.installForCommand(threshold: .error)
        let cmd = self
        try await onThread("train") { try reportingErrors("train") { try cmd.train() } }
    }

    func train() throws {
        if let threads { Parallel.workers = threads }
        let progress = ProgressLine()
        let base = try ModelDirectory(path: weights)
        let cacheDir = cache ?? VocabularyEmbedder.defaultCacheDirectory
        let trainSet = try DetectionDataset(path: data)
        if trainSet.skippedBoxes > 0 { progress.line("\(data): skipped \(trainSet.skippedBoxes) crowd or empty boxes") }
        let vocab = try trainSet.vocabulary()
        let text = try classEmbeddings(vocab, model: base, cacheDirectory: cacheDir)
        let weightsKey = try FeatureCache.weightsKey(model: base)
        let sampling = NegativeSampling(ratio: negatives, poorFraction: poorFraction, loosePerObject: loosePositives, seed: negativesSeed)
        let features = FeatureCache(directory: cacheDir + "/features", weightsKey: weightsKey, sampling: sampling)
        let trainFeatures = try extractFeatures(trainSet, images: images, model: base, cache: features, label: "train", progress: progress)
        var valFeatures: [CachedFeatures] = []
        if let val {
            // the boxes `eval` samples, so that it finds them in the cache afterwards
            let valSet = try DetectionDataset(path: val).relabeled(to: trainSet.categoryNames)
            let valCache = FeatureCache(directory: cacheDir + "/features", weightsKey: weightsKey, sampling: .evaluation)
            valFeatures = try extractFeatures(valSet, images: valImages ?? images, model: base, cache: valCache, label: "val", progress: progress)
        }
        let params: HeadParameters
        if let h = base.head, !fromScratch {
            params = try HeadParameters(weights: RegionSpotHead.weights([try SafeTensors(path: base.path + "/head.safetensors")]), heads: h.config.heads)
        } else {
            let c = RegionSpotHeadConfig.with(tokenDim: base.sam.config.promptDim, width: base.vision.config.width, layers: layers, heads: 8, ffn: ffn, embedDim: base.text.config.embedDim)
            guard c.width % c.heads == 0 else { throw RecognizerError("CLIP width \(c.width) is not divisible by 8 heads") }
            params = HeadParameters(random: c, seed: seed)
        }
        var options = TrainingOptions()
        options.epochs = epochs; options.learningRate = lr; options.weightDecay = weightDecay
        options.imagesPerBatch = batchImages; options.seed = seed
        let objective = HeadObjective(text: text, logitScale: base.text.logitScale)
        var trainer = HeadTrainer(parameters: params, objective: objective, options: options, imageCount: trainFeatures.count)
        let c = params.config
        progress.line("head: \(c.layers) layers, width \(c.width), FFN \(c.ffn), \(params.parameterCount) parameters, \(fromScratch || base.head == nil ? "fresh (seed \(seed))" : "from \(weights)/head.safetensors"); \(epochs) epochs x \((trainFeatures.count + batchImages - 1) / batchImages) steps, lr \(lr), warm-up \(trainer.schedule.warmupSteps) steps, decay at \(trainer.schedule.milestones)")

        let writer = try ModelWriter(base: base, out: out, categories: trainSet.categoryNames, heads: c.heads)
        var csv = "epoch,steps,train_loss,learning_rate,grad_norm,val_top1,val_top5,val_map,seconds,val_objects_accepted,val_background_rejected,val_poor_rejected,val_loose_accepted\n"
        for e in 1...epochs {
            let r = try trainer.trainEpoch(trainFeatures, epoch: e) { s, n, loss in
                progress.update("epoch \(e)/\(self.epochs) step \(s)/\(n) loss \(String(format: "%.4f", loss))")
            }
            var line = "epoch \(e)/\(epochs): loss \(String(format: "%.4f", r.loss)), lr \(String(format: "%.2e", r.learningRate)), grad norm \(String(format: "%.3f", r.gradientNorm)), \(String(format: "%.1f", r.seconds)) s"
            var v1 = "", v5 = "", vm = "", acc = ",,,"
            if !valFeatures.isEmpty {
                let logits = try BoxLogits(trainer.parameters, objective, valFeatures)
                let rep = ClassificationReport(logits: logits.rows(of: .object), labels: logits.labels(of: .object))
                v1 = String(format: "%.4f", rep.top1); v5 = String(format: "%.4f", rep.top5); vm = String(format: "%.4f", rep.meanAP)
                line += "; val top-1 \(v1), top-5 \(v5), mAP \(vm)"
                // acceptance at sigmoid 0.5 (eval --min-score reports any threshold)
                let s = ScoreReport(logits, minScore: 0.5)
                func f(_ k: BoxKind, _ reject: Bool) -> String { s.kinds[k].map { String(format: "%.4f", reject ? 1 - $0.accepted : $0.accepted) } ?? "" }
                acc = [f(.object, false), f(.background, true), f(.poor, true), f(.loose, false)].joined(separator: ",")
                line += "; at σ 0.5: objects accepted \(f(.object, false)), background rejected \(f(.background, true)), poor rejected \(f(.poor, true))"
            }
            progress.line(line)
            csv += "\(e),\(r.steps),\(String(format: "%.6f", r.loss)),\(String(format: "%.3e", r.learningRate)),\(String(format: "%.4f", r.gradientNorm)),\(v1),\(v5),\(vm),\(String(format: "%.2f", r.seconds)),\(acc)\n"
            try writer.writeHead(trainer.parameters, half: half, epoch: e)
            try writer.writeCSV(csv)
        }
        progress.line("wrote \(out) (head.safetensors, vocabulary.txt, training.csv)")
    }
}
