import Foundation

/// Turns text into CLIP token ids (the BPE tokenizer conforms).
public protocol TextTokenizing: Sendable {
    /// Ids with start and end tokens, at most the context length, unpadded.
    func encode(_ text: String) -> [Int]
}

/// Class embeddings of a vocabulary: [K, E], each row L2-normalized.
public struct VocabularyEmbeddings: Sendable {
    public var vocabulary: Vocabulary
    public var embeddings: Tensor
    /// Loaded from the on-disk cache rather than computed.
    public var fromCache: Bool
}

public enum VocabularyEmbedder {
    /// Every prompt of every class through the text tower; per class the mean of its
    /// prompt embeddings, then L2-normalized.
    public static func embed(_ v: Vocabulary, text: CLIPText, tokenizer: TextTokenizing) throws(RecognizerError) -> Tensor {
        let e = text.config.embedDim
        var out: [Float] = []
        out.reserveCapacity(v.labels.count * e)
        // sort prompts by token length so each batch runs only to its own longest prompt
        for i in v.labels.indices {
            let seqs = v.prompts(i).map { tokenizer.encode($0) }.sorted { $0.count < $1.count }
            let emb = try text(seqs)
            var mean = [Float](repeating: 0, count: e)
            for r in 0..<seqs.count { for j in 0..<e { mean[j] += emb.data[r * e + j] } }
            for j in 0..<e { mean[j] /= Float(seqs.count) }
            out += mean
        }
        return Tensor(shape: [v.labels.count, e], data: out).l2Normalized(eps: 0)
    }

    /// `embed` with an on-disk cache keyed by the text weights' hash and the vocabulary,
    /// so a restart or a reload of the same vocabulary costs one file read.
    public static func embed(_ v: Vocabulary, text: CLIPText, tokenizer: TextTokenizing, textWeightsHash: String, cacheDirectory: String?) throws(RecognizerError) -> VocabularyEmbeddings {
        guard let dir = cacheDirectory else {
            return VocabularyEmbeddings(vocabulary: v, embeddings: try embed(v, text: text, tokenizer: tokenizer), fromCache: false)
        }
        var key = StableHash()
        key.add(textWeightsHash)
        for t in Vocabulary.templates { key.add(t) }
        for (l, n) in zip(v.labels, v.names) { key.add(l); for s in n { key.add("|" + s) }; key.add("\n") }
        let path = "\(dir)/vocab-\(key.hex).safetensors"
        if let st = try? SafeTensors(path: path), let t = try? st.tensor("embeddings"),
           t.shape == [v.labels.count, text.config.embedDim], st.metadata["labels"] == v.labels.joined(separator: "\n") {
            return VocabularyEmbeddings(vocabulary: v, embeddings: t, fromCache: true)
        }
        let t = try embed(v, text: text, tokenizer: tokenizer)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? writeSafeTensors(["embeddings": t], metadata: ["labels": v.labels.joined(separator: "\n"), "key": key.hex], to: path)
        return VocabularyEmbeddings(vocabulary: v, embeddings: t, fromCache: false)
    }

    /// Default cache directory: systemd's $CACHE_DIRECTORY, else $XDG_CACHE_HOME or
    /// ~/.cache, under regionspotd/.
    public static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["CACHE_DIRECTORY"], !d.isEmpty { return d.split(separator: ":").first.map(String.init) ?? d }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return x + "/regionspotd" }
        return (env["HOME"] ?? NSTemporaryDirectory()) + "/.cache/regionspotd"
    }
}

/// A fast 64-bit hash (FNV-1a over strings; word-wise mixing over bytes) for cache keys.
public struct StableHash: Sendable {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func add(_ s: String) {
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ 0xff) &* 0x100_0000_01b3
    }
    public mutating func add(_ t: Tensor) {
        t.data.withUnsafeBytes { add(bytes: $0) }
    }
    /// Mixes raw bytes in (8 at a time; the tail byte-wise).
    public mutating func add(bytes raw: UnsafeRawBufferPointer) {
        let n = raw.count / 8
        for i in 0..<n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
        }
        for i in (n * 8)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
    }
    public var hex: String { String(h, radix: 16).leftPadded(16) }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

extension CLIPTokenizer: TextTokenizing {
    public func encode(_ text: String) -> [Int] { encode(text, contextLength: CLIPTokenizer.contextLength) }
}

extension ModelDirectory {
    /// The model's BPE tokenizer (OpenAI .gz, or HF vocab.json + merges.txt).
    public func tokenizer() throws(RecognizerError) -> CLIPTokenizer {
        let f = tokenizerFiles
        do {
            if let gz = f.bpeGz { return try CLIPTokenizer(bpeGzPath: gz) }
            if let v = f.vocabJSON, let m = f.merges { return try CLIPTokenizer(vocabJSON: v, mergesTXT: m) }
        } catch {
            throw RecognizerError("model directory \(path): tokenizer files unreadable: \(error)")
        }
        throw RecognizerError("model directory \(path): no tokenizer (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt)")
    }
}
