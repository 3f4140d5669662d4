// The deterministic part of ftfy.fix_text (ftfy 6.3, default configuration), which
// open_clip applies before anything else. Not reproduced: fix_encoding — ftfy's
// heuristic mojibake repair ("cafÃ©" -> "café"), which guesses from character statistics;
// such text keeps its mojibake here. Everything else follows ftfy step by step:
//
// The text is cut into segments after each "\n". Each segment is fixed to a fixed point:
//   unescape_html (only while no segment so far contained "<"): `&#?[0-9A-Za-z]{1,24};`
//     that names an HTML 5 reference ending in ';' (or an all-caps form ftfy knows), or a
//     numeric reference; anything else stays
//   fix_c1_controls     U+0080...U+009F as Windows-1252 bytes
//   fix_latin_ligatures ﬁ -> fi, ĳ -> ij, ...            (table)
//   fix_character_width full-width / half-width forms     (table)
//   uncurl_quotes       U+02BC, U+2018...U+201B -> ', U+201C...U+201F -> "
//   fix_line_breaks     \r\n, \r, U+2028, U+2029, U+0085 -> \n
//   remove_terminal_escapes  ESC [ (digits|;)* letter
//   remove_control_chars     C0 controls but \t \n \f \r, DEL, U+206A...U+206F, BOM, U+FFF9...U+FFFC
//   NFC

enum FixText {
    static func fixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if text.allSatisfy(isInertASCII) { return text }  // every step is a no-op
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var unescape = true
        var pos = 0
        while pos < text.count {
            var end = pos
            while end < text.count && text[end] != "\n" { end += 1 }
            if end < text.count { end += 1 }
            let segment = Array(text[pos..<end])
            if segment.contains("<") { unescape = false }  // stays off for later segments too
            out += fixSegment(segment, unescapeHTML: unescape)
            pos = end
        }
        return out
    }

    /// Printable ASCII and \t \n \f, with no '&': nothing for ftfy to do.
    private static func isInertASCII(_ s: Unicode.Scalar) -> Bool {
        (s.value >= 0x20 && s.value < 0x7F && s != "&") || s == "\t" || s == "\n" || s == "\u{0C}"
    }

    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var text = segment
        while true {
            let original = text
            if unescapeHTML { text = ftfyUnescapeHTML(text) }
            text = text.map(fixC1Control)
            text = translate(text, ligatures)
            text = translate(text, widthForms)
            text = text.map(uncurlQuote)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !isRemovedControl($0) }
            text = nfc(text)
            if text == original { return text }
        }
    }

    // MARK: steps

    static func ftfyUnescapeHTML(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < text.count {
            guard text[i] == "&", let end = entityEnd(text, amp: i) else { out.append(text[i]); i += 1; continue }
            let match = Array(text[i..<end])              // "&...;"
            let name = Array(match.dropFirst())           // "...;"
            if let r = CLIPTextCleaning.namedReferences[name] ?? uppercaseReferences[name] {
                out += r
            } else if match[1] == "#" {
                let r = CLIPTextCleaning.htmlUnescape(match)
                out += r.contains(";") ? match : r        // only a complete reference counts
            } else {
                out += match
            }
            i = end
        }
        return out
    }

    /// End of a `&#?[0-9A-Za-z]{1,24};` match at `amp`, if there is one.
    private static func entityEnd(_ text: [Unicode.Scalar], amp: Int) -> Int? {
        var j = amp + 1
        if j < text.count && text[j] == "#" { j += 1 }
        let start = j
        while j < text.count, text[j].isASCII, text[j].properties.isAlphabetic || isASCIIDigit(text[j]) { j += 1 }
        guard j - start >= 1, j - start <= 24, j < text.count, text[j] == ";" else { return nil }
        return j + 1
    }

    private static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }

    static func fixC1Control(_ s: Unicode.Scalar) -> Unicode.Scalar {
        guard s.value >= 0x80 && s.value <= 0x9F else { return s }
        return CLIPTextCleaning.windows1252(s.value)
    }

    static func uncurlQuote(_ s: Unicode.Scalar) -> Unicode.Scalar {
        switch s.value {
        case 0x2BC, 0x2018...0x201B: return "'"
        case 0x201C...0x201F: return "\""
        default: return s
        }
    }

    static func fixLineBreaks(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            switch text[i] {
            case "\r":
                out.append("\n")
                if i + 1 < text.count && text[i + 1] == "\n" { i += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                out.append("\n")
            default:
                out.append(text[i])
            }
            i += 1
        }
        return out
    }

    /// Removes `ESC [ (\d|;)* [a-zA-Z]` (\d: any decimal digit, as Python's re has it).
    static func removeTerminalEscapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\u{1B}") else { return text }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count && (text[j] == ";" || text[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < text.count, text[j].isASCII, text[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    static func isRemovedControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// NFC by the standard library's own normalizer (`String._nfcCodeUnits`, public though
    /// underscored; the one String comparison uses). Not Foundation's
    /// precomposedStringWithCanonicalMapping: on Linux it turns U+10041 U+0301 into "Á" and
    /// leaves a Hangul LV syllable + T jamo apart. Checked against Python's unicodedata on
    /// every assigned code point (alone, decomposed, with combining marks).
    static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if text.allSatisfy({ $0.value < 0x300 }) { return text }  // nothing below U+0300 changes
        let string = String(String.UnicodeScalarView(text))
        return Array(String(decoding: string._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }

    // MARK: tables (TextTables.swift)

    private static func translate(_ text: [Unicode.Scalar], _ table: [Unicode.Scalar: [Unicode.Scalar]]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for s in text {
            if let r = table[s] { out += r } else { out.append(s) }
        }
        return out
    }

    private static func parse(_ table: String) -> [(Substring, [Unicode.Scalar])] {
        table.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t")
            return (parts[0], parts[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! })
        }
    }

    private static func scalarTable(_ table: String) -> [Unicode.Scalar: [Unicode.Scalar]] {
        Dictionary(uniqueKeysWithValues: parse(table).map { (Unicode.Scalar(UInt32($0.0, radix: 16)!)!, $0.1) })
    }

    static let ligatures = scalarTable(ftfyLigatures)
    static let widthForms = scalarTable(ftfyWidthMap)
    static let uppercaseReferences: [[Unicode.Scalar]: [Unicode.Scalar]] =
        Dictionary(uniqueKeysWithValues: parse(ftfyUppercaseEntities).map { (Array($0.0.unicodeScalars), $0.1) })
}
