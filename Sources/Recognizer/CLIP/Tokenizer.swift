// CLIP's byte-level BPE tokenizer, matching open_clip's SimpleTokenizer (clean = "lower",
// context 77) id for id — except on mojibake, which open_clip's ftfy repairs by heuristics
// that are not ported (FixText.swift ports the rest of ftfy.fix_text).
//
// text -> TextCleaning (ftfy, html unescape x2, whitespace, lower) -> PreTokenizer words ->
// each word's UTF-8 bytes as byte symbols, the last one with "</w>" -> BPE merges in rank
// order -> ids; then <start_of_text> ... <end_of_text>, cut to the context length.
// The vocabulary comes from OpenAI's .txt.gz or Hugging Face's vocab.json + merges.txt
// (BPEFiles.swift). Merges work on ids: (left id, right id) -> (rank, merged id).
import Foundation

public final class CLIPTokenizer: Sendable {
    /// `<start_of_text>` (Hugging Face: `<|startoftext|>`)
    public static let startToken = 49406
    /// `<end_of_text>` (Hugging Face: `<|endoftext|>`)
    public static let endToken = 49407
    public static let contextLength = 77

    /// Number of tokens in the vocabulary (49408 for CLIP).
    public let vocabularySize: Int
    let startID: Int32
    let endID: Int32
    /// byte -> id of its symbol, and of its symbol + "</w>" (256 each)
    private let byteID: [Int32]
    private let byteEndID: [Int32]
    /// (left << 32 | right) -> (rank, merged id)
    private let merges: [UInt64: Merge]
    /// id -> the bytes it stands for, "</w>" kept as its 4 bytes (for decode)
    private let tokenBytes: [[UInt8]]
    private let cache = WordCache()

    struct Merge { var rank: Int32; var id: Int32 }

    /// OpenAI / open_clip's `bpe_simple_vocab_16e6.txt.gz`.
    public convenience init(bpeGzPath: String) throws {
        try self.init(vocabulary: BPEVocabulary(bpeGzPath: bpeGzPath))
    }

    /// Hugging Face's `vocab.json` and `merges.txt`.
    public convenience init(vocabJSON: String, mergesTXT: String) throws {
        try self.init(vocabulary: BPEVocabulary(vocabJSON: vocabJSON, mergesTXT: mergesTXT))
    }

    init(vocabulary v: BPEVocabulary) throws {
        func fail(_ reason: String) -> TokenizerError { .malformed(path: v.source, reason: reason) }
        guard v.startID == Self.startToken, v.endID == Self.endToken else {
            throw fail("start/end tokens have ids \(v.startID)/\(v.endID), CLIP uses \(Self.startToken)/\(Self.endToken)")
        }
        let size = (v.encoder.values.max() ?? -1) + 1
        guard size <= 1 << 24, v.encoder.values.allSatisfy({ $0 >= 0 }) else {
            throw fail("token ids must lie in 0..<\(1 << 24), found \(v.encoder.values.min() ?? 0)...\(size - 1)")
        }
        // Decoder: the byte sequence of each token.
        var symbolByte: [Unicode.Scalar: UInt8] = [:]
        for (byte, symbol) in clipByteSymbols { symbolByte[symbol] = byte }
        var tokenBytes = [[UInt8]](repeating: [], count: size)
        for (token, id) in v.encoder {
            tokenBytes[id] = token.unicodeScalars.map { symbolByte[$0] ?? UInt8(truncatingIfNeeded: $0.value) }
        }
        // Byte symbols.
        var byteID = [Int32](repeating: -1, count: 256)
        var byteEndID = [Int32](repeating: -1, count: 256)
        for (byte, symbol) in clipByteSymbols {
            guard let a = v.encoder[String(symbol)], let b = v.encoder[String(symbol) + "</w>"] else {
                throw fail("byte symbol \(String(symbol).debugDescription) (byte \(byte)) or its \"</w>\" form is missing")
            }
            byteID[Int(byte)] = Int32(a)
            byteEndID[Int(byte)] = Int32(b)
        }
        // Merges.
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(v.merges.count)
        for (rank, (left, right)) in v.merges.enumerated() {
            guard let l = v.encoder[left], let r = v.encoder[right], let m = v.encoder[left + right] else {
                throw fail("merge #\(rank) \"\(left) \(right)\" uses a token not in the vocabulary")
            }
            merges[UInt64(l) << 32 | UInt64(r)] = Merge(rank: Int32(rank), id: Int32(m))  // a later duplicate wins, as in Python
        }
        self.vocabularySize = size
        self.startID = Int32(v.startID)
        self.endID = Int32(v.endID)
        self.byteID = byteID
        self.byteEndID = byteEndID
        self.merges = merges
        self.tokenBytes = tokenBytes
    }

    // MARK: encoding

    /// Ids of `text` with start and end tokens, no padding, cut to `contextLength` tokens
    /// (the first 76, then the end token) as open_clip does.
    public func encode(_ text: String, contextLength: Int = CLIPTokenizer.contextLength) -> [Int] {
        precondition(contextLength >= 2, "contextLength must hold the start and end tokens")
        var ids = [Int(startID)]
        let scalars = CLIPTextCleaning.clean(text)
        for word in CLIPPreTokenizer.split(scalars) {
            ids.append(contentsOf: wordIDs(scalars[word]).lazy.map { Int($0) })
            if ids.count >= contextLength { break }  // the rest would be cut anyway
        }
        ids.append(Int(endID))
        if ids.count > contextLength {
            ids.removeLast(ids.count - contextLength)
            ids[contextLength - 1] = Int(endID)
        }
        return ids
    }

    /// One row per text: `encode` padded with 0 to `contextLength`.
    /// (batch, contextLength)
    public func tokenize(_ texts: [String], contextLength: Int = CLIPTokenizer.contextLength) -> [[Int]] {
        texts.map { text in
            let ids = encode(text, contextLength: contextLength)
            return ids + [Int](repeating: 0, count: contextLength - ids.count)
        }
    }

    private static let startText = Array("<start_of_text>".utf8)
    private static let endText = Array("<end_of_text>".utf8)

    /// The ids of one pre-tokenized word (cached).
    private func wordIDs(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
        // Keyed by UTF-8 bytes: String equality would merge canonically equivalent words
        // (composed vs decomposed accents) that have different bytes and so other ids.
        var key: [UInt8] = []
        key.reserveCapacity(word.count)
        for s in word { key.append(contentsOf: UTF8.encode(s)!) }
        if key == Self.startText { return [startID] }
        if key == Self.endText { return [endID] }
        if let hit = cache.get(key) { return hit }
        let ids = bpe(key)
        cache.set(key, ids)
        return ids
    }

    /// BPE over one word's bytes: repeatedly merge every occurrence (left to right) of the
    /// adjacent pair with the lowest rank, until no adjacent pair has a merge.
    func bpe(_ bytes: [UInt8]) -> [Int32] {
        guard let last = bytes.last else { return [] }
        var word = bytes.map { byteID[Int($0)] }
        word[word.count - 1] = byteEndID[Int(last)]
        while word.count > 1 {
            var best: Merge? = nil
            var bestLeft: Int32 = 0, bestRight: Int32 = 0
            for k in 0..<(word.count - 1) {
                if let m = merges[UInt64(word[k]) << 32 | UInt64(word[k + 1])], m.rank < (best?.rank ?? .max) {
                    best = m; bestLeft = word[k]; bestRight = word[k + 1]
                }
            }
            guard let merge = best else { break }
            var merged: [Int32] = []
            merged.reserveCapacity(word.count - 1)
            var k = 0
            while k < word.count {
                if word[k] == bestLeft && k + 1 < word.count && word[k + 1] == bestRight {
                    merged.append(merge.id)
                    k += 2
                } else {
                    merged.append(word[k])
                    k += 1
                }
            }
            word = merged
        }
        return word
    }

    // MARK: decoding

    /// Text of `ids` as open_clip decodes it: token bytes joined, UTF-8 decoded (invalid
    /// sequences become U+FFFD), each "</w>" replaced by a space. Unknown ids are skipped.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokenBytes.count { bytes += tokenBytes[id] }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "</w>", with: " ")
    }
}

/// Word -> ids memo shared by every caller of one tokenizer (class names and templates
/// repeat a lot). Bounded: cleared when it grows past `limit` words.
private final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var words: [[UInt8]: [Int32]] = [:]
    private let limit = 200_000

    func get(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return words[key]
    }

    func set(_ key: [UInt8], _ ids: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if words.count >= limit { words.removeAll(keepingCapacity: true) }
        words[key] = ids
    }
}
