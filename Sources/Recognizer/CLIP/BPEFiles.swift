// Reading CLIP's BPE vocabulary from the two on-disk formats users have:
//   - OpenAI / open_clip: `bpe_simple_vocab_16e6.txt.gz`, gzip text; line 0 is a header,
//     lines 1...48894 are merges "left right" in rank order (the rest of the file is unused).
//     The vocabulary is implied: 256 byte symbols, the same with "</w>", one token per merge,
//     then "<start_of_text>", "<end_of_text>" (49408 in all).
//   - Hugging Face: `vocab.json` (token -> id, special tokens spelled "<|startoftext|>",
//     "<|endoftext|>") and `merges.txt` ("#version: 0.2" header, then one merge per line).
// Both give the same ids. The tokenizer itself is in Tokenizer.swift.
import CZlib
import Foundation

public enum TokenizerError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read tokenizer file \(path): \(reason)"
        case .malformed(let path, let reason): return "bad tokenizer file \(path): \(reason)"
        }
    }
}

/// A tokenizer vocabulary before it is compiled into id tables.
struct BPEVocabulary {
    /// token text (byte symbols, "</w>" marks a word end) -> id
    var encoder: [String: Int]
    /// merges in rank order (rank = index)
    var merges: [(String, String)]
    var startID: Int
    var endID: Int
    /// where it came from, for error messages
    var source: String
}

/// Merges used by OpenAI CLIP: 49152 - 256 - 2 lines after the header.
let clipMergeCount = 49152 - 256 - 2

/// The 256 byte symbols in id order (open_clip's bytes_to_unicode): printable Latin-1 bytes
/// map to themselves, the other 68 bytes to U+0100 + n in byte order. Index = id, value =
/// (byte, symbol).
let clipByteSymbols: [(byte: UInt8, symbol: Unicode.Scalar)] = {
    var bytes = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var symbols = bytes
    var n = 0
    for b in 0..<256 where !bytes.contains(b) {
        bytes.append(b)
        symbols.append(256 + n)
        n += 1
    }
    return zip(bytes, symbols).map { (UInt8($0), Unicode.Scalar(UInt32($1))!) }
}()

extension BPEVocabulary {
    /// OpenAI's gzip merges file.
    init(bpeGzPath path: String) throws {
        let compressed: Data
        do { compressed = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        let text = try String(decoding: gunzip(compressed, path: path), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > clipMergeCount else {
            throw TokenizerError.malformed(path: path, reason: "\(lines.count) lines, expected a header and \(clipMergeCount) merges")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(clipMergeCount)
        for (i, line) in lines[1...clipMergeCount].enumerated() {
            merges.append(try Self.parseMerge(line, path: path, line: i + 2))
        }
        var tokens = clipByteSymbols.map { String($0.symbol) }
        tokens += tokens.map { $0 + "</w>" }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += ["<start_of_text>", "<end_of_text>"]
        var encoder: [String: Int] = [:]
        encoder.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { encoder[token] = id }
        self.init(encoder: encoder, merges: merges, startID: tokens.count - 2, endID: tokens.count - 1, source: path)
    }

    /// Hugging Face's vocab.json + merges.txt.
    init(vocabJSON: String, mergesTXT: String) throws {
        let json: Data
        do { json = try Data(contentsOf: URL(fileURLWithPath: vocabJSON)) } catch {
            throw TokenizerError.unreadable(path: vocabJSON, reason: "\(error.localizedDescription)")
        }
        let encoder: [String: Int]
        do { encoder = try JSONDecoder().decode([String: Int].self, from: json) } catch {
            throw TokenizerError.malformed(path: vocabJSON, reason: "not a JSON object of token -> integer id (\(error))")
        }
        let text: String
        do { text = try String(contentsOfFile: mergesTXT, encoding: .utf8) } catch {
            throw TokenizerError.unreadable(path: mergesTXT, reason: "\(error.localizedDescription)")
        }
        var merges: [(String, String)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.isEmpty || (i == 0 && line.hasPrefix("#version")) { continue }
            merges.append(try Self.parseMerge(line, path: mergesTXT, line: i + 1))
        }
        func special(_ names: [String]) throws -> Int {
            for name in names { if let id = encoder[name] { return id } }
            throw TokenizerError.malformed(path: vocabJSON, reason: "no \(names[0]) token")
        }
        self.init(encoder: encoder, merges: merges,
                  startID: try special(["<|startoftext|>", "<start_of_text>"]),
                  endID: try special(["<|endoftext|>", "<end_of_text>"]),
                  source: vocabJSON + " + " + mergesTXT)
    }

    private static func parseMerge(_ line: Substring, path: String, line number: Int) throws -> (String, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TokenizerError.malformed(path: path, reason: "line \(number) is not a merge \"left right\": \(line.prefix(80))")
        }
        return (String(parts[0]), String(parts[1]))
    }
}

/// Inflates gzip (or zlib) data in memory with zlib.
func gunzip(_ data: Data, path: String) throws -> [UInt8] {
    var stream = z_stream()
    guard czlib_inflate_init_auto(&stream) == Z_OK else {
        throw TokenizerError.unreadable(path: path, reason: "zlib inflateInit2 failed")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    output.reserveCapacity(data.count * 3)
    let chunk = 1 << 18
    var buffer = [UInt8](repeating: 0, count: chunk)
    var status: Int32 = Z_OK
    try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
        stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        stream.avail_in = uInt(input.count)
        while status != Z_STREAM_END {
            status = buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunk)
                return inflate(&stream, Z_NO_FLUSH)
            }
            guard status == Z_OK || status == Z_STREAM_END else {
                let detail = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw TokenizerError.malformed(path: path, reason: "not valid gzip data (\(detail))")
            }
            let produced = chunk - Int(stream.avail_out)
            output.append(contentsOf: buffer[0..<produced])
            if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                throw TokenizerError.malformed(path: path, reason: "gzip data ends early")
            }
        }
    }
    return output
}
