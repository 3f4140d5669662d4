// CLIP's pre-tokenization: the words BPE runs on, as open_clip finds them with the
// `regex` module's findall over the cleaned text:
//
//   <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   (re.IGNORECASE)
//
// A hand-written scanner over Unicode scalars with the same semantics: at each position
// the first alternative that matches wins (ordered, not longest); characters no
// alternative matches (whitespace) are skipped; a digit is always a word of its own.
// IGNORECASE only matters for the literal letters, where `s` also matches U+017F (ſ),
// and for U+0345 (combining ypogegrammeni), which case-folds to a letter and so is neither
// in `[\p{L}]` nor in `[^\s\p{L}\p{N}]`: no alternative matches it.

enum CLIPPreTokenizer {
    enum Kind { case letter, number, space, other, unmatched }

    @inline(__always)
    static func kind(_ s: Unicode.Scalar) -> Kind {
        let v = s.value
        if v < 0x80 {
            switch v {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        if v == 0x345 { return .unmatched }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return s.properties.isWhitespace ? .space : .other
        }
    }

    static let specialTokens = ["<start_of_text>", "<end_of_text>"].map { Array($0.unicodeScalars) }
    static let contractions = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// Case-insensitive match of one text scalar against a pattern scalar (ASCII only).
    @inline(__always)
    static func matches(_ s: Unicode.Scalar, _ p: Unicode.Scalar) -> Bool {
        if s == p { return true }
        let lower = p.value | 0x20
        guard lower >= 0x61 && lower <= 0x7A else { return false }
        return s.value == lower || s.value == lower - 32 || (lower == 0x73 && s.value == 0x17F)
    }

    static func hasPrefix(_ text: [Unicode.Scalar], at i: Int, _ literal: [Unicode.Scalar]) -> Bool {
        guard i + literal.count <= text.count else { return false }
        for k in 0..<literal.count where !matches(text[i + k], literal[k]) { return false }
        return true
    }

    /// The words of `text`, as ranges of scalar indices, in order.
    static func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var i = 0
        let n = text.count
        scan: while i < n {
            let s = text[i]
            if s == "<" {
                for special in specialTokens where hasPrefix(text, at: i, special) {
                    words.append(i..<(i + special.count))
                    i += special.count
                    continue scan
                }
            } else if s == "'" {
                for c in contractions where hasPrefix(text, at: i + 1, c) {
                    words.append(i..<(i + 1 + c.count))
                    i += 1 + c.count
                    continue scan
                }
            }
            switch kind(s) {
            case .letter:
                var j = i + 1
                while j < n && kind(text[j]) == .letter { j += 1 }
                words.append(i..<j)
                i = j
            case .number:
                words.append(i..<(i + 1))
                i += 1
            case .other:
                var j = i + 1
                while j < n && kind(text[j]) == .other { j += 1 }
                words.append(i..<j)
                i = j
            case .space, .unmatched:
                i += 1
            }
        }
        return words
    }
}
