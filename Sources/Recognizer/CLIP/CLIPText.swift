import Foundation

// CLIP text tower (OpenAI clip/model.py encode_text): token + position embeddings,
// causal residual blocks, ln_final, the end-of-text token's output @ text_projection.
// Because of the causal mask the end token never sees later positions, so a batch runs
// only up to its longest prompt instead of all 77 positions: same result, less work.

public struct CLIPTextConfig: Sendable, Equatable, Codable {
    public var contextLength: Int, vocabSize: Int, width: Int, layers: Int, heads: Int, embedDim: Int
}

public struct CLIPText: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding, positional, lnFinalW, lnFinalB, projection: Tensor
    let transformer: CLIPTransformer
    /// exp of this scales cosine similarities into logits.
    public let logitScale: Float
    /// Hash of every text-tower tensor (keys the vocabulary cache).
    public let weightsHash: String

    public init(weights w: WeightSource, heads: Int? = nil) throws(RecognizerError) {
        tokenEmbedding = try w.tensor("token_embedding.weight", shape: [-1, -1])
        let width = tokenEmbedding.shape[1]
        positional = try w.tensor("positional_embedding", shape: [-1, width])
        lnFinalW = try w.tensor("ln_final.weight", shape: [width]); lnFinalB = try w.tensor("ln_final.bias", shape: [width])
        projection = try w.clipProjection(openAI: "text_projection", huggingFace: "text_projection.weight")
        guard projection.shape[0] == width else { throw RecognizerError("\(w.fileNames): text projection has shape \(projection.shape), expected [\(width), E]") }
        logitScale = try w.tensor("logit_scale").data.first ?? 0
        let h = heads ?? max(1, width / 64)
        transformer = try CLIPTransformer(w, prefix: "transformer.resblocks", width: width, heads: h)
        var hash = StableHash()
        for t in [tokenEmbedding, positional, lnFinalW, lnFinalB, projection] { hash.add(t) }
        for b in transformer.blocks { for t in [b.ln1w, b.ln1b, b.inW.tensor, b.inB, b.outW.tensor, b.outB, b.ln2w, b.ln2b, b.fcW.tensor, b.fcB, b.projW.tensor, b.projB] { hash.add(t) } }
        weightsHash = hash.hex
        config = CLIPTextConfig(contextLength: positional.shape[0], vocabSize: tokenEmbedding.shape[0], width: width,
                                layers: transformer.blocks.count, heads: h, embedDim: projection.shape[1])
    }

    /// Token id sequences (with start/end tokens, unpadded or zero-padded) -> text
    /// embeddings [B, E], not normalized. The end token is the highest id of each
    /// sequence (as CLIP's argmax pooling). Runs `batchSize` prompts at a time.
    public func callAsFunction(_ sequences: [[Int]], batchSize: Int = 64) throws(RecognizerError) -> Tensor {
        // Batches hold prompts of similar length (sorted by length, stable), so each is
        // truncated to a length close to its own prompts'; causal attention makes the
        // padding invisible to the end token, so the order does not change any result.
        let e = config.embedDim
        let ends = sequences.map(Self.endPosition)
        let order = sequences.indices.sorted { (ends[$0], $0) < (ends[$1], $1) }
        var out = [Float](repeating: 0, count: sequences.count * e)
        var start = 0
        while start < order.count {
            let idx = Array(order[start..<min(order.count, start + batchSize)])
            let y = try encodeBatch(idx.map { sequences[$0] })
            for (j, i) in idx.enumerated() { out.replaceSubrange((i * e)..<((i + 1) * e), with: y.data[(j * e)..<((j + 1) * e)]) }
            start += batchSize
        }
        return Tensor(shape: [sequences.count, e], data: out)
    }

    /// The end token's position: the first occurrence of the sequence's highest id.
    static func endPosition(_ s: [Int]) -> Int { s.indices.max { s[$0] < s[$1] || (s[$0] == s[$1] && $0 > $1) } ?? 0 }

    func encodeBatch(_ seqs: [[Int]]) throws(RecognizerError) -> Tensor {
        let w = config.width
        // the end token position of each sequence (first occurrence of its max id)
        let ends = seqs.map(Self.endPosition)
        let t = (ends.max() ?? 0) + 1
        guard t <= config.contextLength else { throw RecognizerError("text: \(t) tokens exceed the context length \(config.contextLength)") }
        var x = [Float](repeating: 0, count: seqs.count * t * w)
        for (b, s) in seqs.enumerated() {
            for i in 0..<t {
                let id = i < s.count ? s[i] : 0
                guard id >= 0 && id < config.vocabSize else { throw RecognizerError("text: token id \(id) outside the vocabulary (\(config.vocabSize))") }
                for c in 0..<w { x[(b * t + i) * w + c] = tokenEmbedding.data[id * w + c] + positional.data[i * w + c] }
            }
        }
        let y = transformer(Tensor(shape: [seqs.count * t, w], data: x), batch: seqs.count, tokens: t, causal: true)
        var pooled: [Float] = []
        for (b, e) in ends.enumerated() { pooled += y.data[((b * t + e) * w)..<((b * t + e + 1) * w)] }
        let normed = Tensor(shape: [seqs.count, w], data: pooled).layerNorm(lnFinalW, lnFinalB, eps: 1e-5)
        return matmul(normed, projection)
    }
}
