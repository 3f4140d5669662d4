import Foundation
import Testing
@testable import Recognizer

/// Parity cases written by tools/make_tokenizer_cases.py from open_clip's SimpleTokenizer.
private struct TokenizerCases: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]                  // (77) reference row
        var ids_no_fix_encoding: [Int]? // (77) without ftfy's mojibake repair, where that differs
        var ids_no_ftfy: [Int]?         // (77) without ftfy at all, where that differs
        var cleaned: String             // open_clip's clean-up, ftfy without mojibake repair
        var cleaned_no_ftfy: String?    // the same without ftfy, where that differs
        var words: [String]             // pre-tokenization of `cleaned`
        /// What the Swift side must give: it ports ftfy except its heuristic mojibake repair.
        var expected: [Int] { ids_no_fix_encoding ?? ids }
    }
    var context_length: Int
    var cases: [Case]

    static let shared: TokenizerCases = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer_ids.json")))
        return try! JSONDecoder().decode(TokenizerCases.self, from: data)
    }()
}

/// The fixture helper's independent cases (tools/fixturegen/tokenizer.py): non-padding ids
/// from open_clip, tagged; ftfy_* tags need ftfy's behaviour, which FixText ports.
private struct FixtureTokenizerCases: Decodable {
    struct Case: Decodable { var text: String; var ids: [Int]; var truncated: Bool; var tags: [String] }
    var cases: [Case]
}

/// One tokenizer per test process: loading the 49408-token vocabulary takes a moment.
private let gzTokenizer: CLIPTokenizer = try! CLIPTokenizer(bpeGzPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz"))

/// A fresh temporary directory, removed by the caller.
private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Hugging Face's files from OpenAI's, by the documented conversion (written here
/// independently of the loader): vocab.json = 256 byte symbols, the same + "</w>", one
/// token per merge, "<|startoftext|>", "<|endoftext|>"; merges.txt = "#version: 0.2" + merges.
private func writeHuggingFaceFiles(to dir: URL) throws -> (vocab: String, merges: String) {
    let gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz")))
    let lines = String(decoding: try gunzip(gz, path: "fixture"), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    let merges = lines[1...(49152 - 256 - 2)].map(String.init)
    // printable Latin-1 bytes stand for themselves; the other 68 bytes are U+0100... in byte order
    let printable = Array(33...126) + Array(161...172) + Array(174...255)
    let symbols = printable + (0..<(256 - printable.count)).map { 256 + $0 }
    var tokens = symbols.map { String(Unicode.Scalar(UInt32($0))!) }
    tokens += tokens.map { $0 + "</w>" }
    tokens += merges.map { $0.replacingOccurrences(of: " ", with: "") }
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    var vocab: [String: Int] = [:]
    for (i, t) in tokens.enumerated() { vocab[t] = i }
    let vocabURL = dir.appendingPathComponent("vocab.json")
    let mergesURL = dir.appendingPathComponent("merges.txt")
    try JSONSerialization.data(withJSONObject: vocab).write(to: vocabURL)
    try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(to: mergesURL, atomically: true, encoding: .utf8)
    return (vocabURL.path, mergesURL.path)
}

@Suite("CLIP tokenizer")
struct TokenizerTests {
    @Test("vocabulary from OpenAI's bpe_simple_vocab_16e6.txt.gz")
    func vocabulary() {
        #expect(gzTokenizer.vocabularySize == 49408)
        #expect(gzTokenizer.encode("") == [CLIPTokenizer.startToken, CLIPTokenizer.endToken])
        #expect(CLIPTokenizer.startToken == 49406 && CLIPTokenizer.endToken == 49407)
        #expect(gzTokenizer.encode("a photo of a cat.") == [49406, 320, 1125, 539, 320, 2368, 269, 49407])
    }

    @Test("at least 200 reference strings on which ftfy changes nothing")
    func enoughCases() {
        let cases = TokenizerCases.shared.cases
        #expect(cases.filter { $0.ids_no_ftfy == nil }.count >= 200)
        #expect(TokenizerCases.shared.context_length == CLIPTokenizer.contextLength)
    }

    @Test("text clean-up equals open_clip's (ftfy, html unescape x2, whitespace, lower)")
    func cleaning() {
        var wrong: [String] = []
        for c in TokenizerCases.shared.cases {
            for fix in [true, false] {
                let got = CLIPTextCleaning.clean(c.text, fixText: fix)
                let want = fix ? c.cleaned : (c.cleaned_no_ftfy ?? c.cleaned)
                if got != Array(want.unicodeScalars) {
                    wrong.append("\(fix ? "" : "(no ftfy) ")\(c.text.debugDescription) -> \(String(String.UnicodeScalarView(got)).debugDescription), want \(want.debugDescription)")
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) texts cleaned differently:\n\(wrong.prefix(10).joined(separator: "\n"))")
    }

    @Test("pre-tokenization equals open_clip's regex findall")
    func preTokenization() {
        var wrong: [String] = []
        for c in TokenizerCases.shared.cases {
            let scalars = Array(c.cleaned.unicodeScalars)
            let words = CLIPPreTokenizer.split(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
            // compare as scalars: String == would accept canonically equivalent words
            if words.map({ Array($0.unicodeScalars) }) != c.words.map({ Array($0.unicodeScalars) }) {
                wrong.append("\(c.cleaned.debugDescription): \(words) want \(c.words)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) texts split differently:\n\(wrong.prefix(10).joined(separator: "\n"))")
    }

    @Test("ids equal open_clip's for every reference string (tokenize and encode)")
    func idsMatchReference() {
        let cases = TokenizerCases.shared.cases
        let rows = gzTokenizer.tokenize(cases.map(\.text))
        var wrong: [String] = []
        for (c, row) in zip(cases, rows) {
            let want = c.expected
            let end = want.lastIndex(of: CLIPTokenizer.endToken)!
            let encoded = gzTokenizer.encode(c.text)
            if row != want || encoded != Array(want[...end]) {
                wrong.append("\(c.text.debugDescription): \(encoded) want \(Array(want[...end]))")
            }
        }
        #expect(rows.allSatisfy { $0.count == 77 })
        #expect(wrong.isEmpty, "\(wrong.count) of \(cases.count) texts differ:\n\(wrong.prefix(10).joined(separator: "\n"))")
    }

    @Test("ids equal open_clip's for the fixture helper's tagged cases (tokenizer_cases.json)")
    func fixtureHelperCases() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer_cases.json")))
        let cases = try JSONDecoder().decode(FixtureTokenizerCases.self, from: data).cases
        #expect(cases.count >= 200)
        #expect(cases.contains { $0.truncated } && cases.contains { $0.tags.contains { $0.hasPrefix("ftfy") } })
        var wrong: [String] = []
        for c in cases where gzTokenizer.encode(c.text) != c.ids {
            wrong.append("\(c.tags) \(c.text.debugDescription): \(gzTokenizer.encode(c.text)) want \(c.ids)")
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(cases.count) texts differ:\n\(wrong.prefix(10).joined(separator: "\n"))")
    }

    @Test("over-long text keeps the first 75 tokens and ends with the end token")
    func truncation() {
        let ids = gzTokenizer.encode(String(repeating: "dog ", count: 100))
        #expect(ids.count == 77)
        #expect(ids.first == CLIPTokenizer.startToken && ids.last == CLIPTokenizer.endToken)
        #expect(Set(ids[1..<76]) == [1929])  // "dog</w>"
        let short = gzTokenizer.tokenize(["dog dog dog"], contextLength: 4)
        #expect(short == [[49406, 1929, 1929, 49407]])
        #expect(gzTokenizer.tokenize(["dog"], contextLength: 5) == [[49406, 1929, 49407, 0, 0]])
    }

    @Test("Hugging Face vocab.json + merges.txt give the same ids")
    func huggingFaceFormat() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try writeHuggingFaceFiles(to: dir)
        let hf = try CLIPTokenizer(vocabJSON: files.vocab, mergesTXT: files.merges)
        #expect(hf.vocabularySize == 49408)
        let texts = TokenizerCases.shared.cases.map(\.text)
        #expect(hf.tokenize(texts) == gzTokenizer.tokenize(texts))
        #expect(hf.decode([49406, 320, 2368, 49407]) == "<|startoftext|>a cat <|endoftext|>")
    }

    @Test("decode joins token bytes and turns </w> into spaces")
    func decoding() {
        #expect(gzTokenizer.decode(gzTokenizer.encode("a photo of a cat.")) == "<start_of_text>a photo of a cat . <end_of_text>")
        #expect(gzTokenizer.decode(gzTokenizer.encode("it's 3 o'clock!")) == "<start_of_text>it 's 3 o ' clock ! <end_of_text>")
        #expect(gzTokenizer.decode([15304, 1741, 481]) == "café ☃ ")
    }

    @Test("the word cache is safe under concurrent use")
    func concurrentUse() async {
        let texts = TokenizerCases.shared.cases.map(\.text)
        let want = texts.map { gzTokenizer.encode($0) }
        let fresh = try! CLIPTokenizer(vocabulary: sharedVocabulary)  // cold cache, filled concurrently
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for k in 0..<8 {
                group.addTask {
                    let order = k % 2 == 0 ? Array(texts.indices) : texts.indices.reversed()
                    return order.allSatisfy { fresh.encode(texts[$0]) == want[$0] && gzTokenizer.encode(texts[$0]) == want[$0] }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test("bad files give errors that name the file and the problem")
    func badFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.txt.gz").path
        #expect { try CLIPTokenizer(bpeGzPath: missing) } throws: { "\($0)".contains(missing) }

        let notGzip = dir.appendingPathComponent("plain.txt.gz")
        try Data("hello".utf8).write(to: notGzip)
        #expect { try CLIPTokenizer(bpeGzPath: notGzip.path) } throws: { "\($0)".contains("plain.txt.gz") && "\($0)".contains("gzip") }

        let files = try writeHuggingFaceFiles(to: dir)
        var merges = try String(contentsOfFile: files.merges, encoding: .utf8)
        merges = merges.replacingOccurrences(of: "\ni n\n", with: "\ni n x\n")
        try merges.write(toFile: files.merges, atomically: true, encoding: .utf8)
        #expect { try CLIPTokenizer(vocabJSON: files.vocab, mergesTXT: files.merges) } throws: {
            "\($0)".contains("merges.txt") && "\($0)".contains("line 2 ")
        }
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: files.vocab))
        #expect { try CLIPTokenizer(vocabJSON: files.vocab, mergesTXT: files.merges) } throws: { "\($0)".contains("vocab.json") }
    }
}

private let sharedVocabulary = try! BPEVocabulary(bpeGzPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz"))
