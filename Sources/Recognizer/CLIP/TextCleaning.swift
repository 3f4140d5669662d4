// CLIP's text clean-up before pre-tokenization, as open_clip's SimpleTokenizer does it
// (clean = "lower"): ftfy.fix_text (its deterministic part, FixText.swift), then
// html.unescape(html.unescape(text)), collapse whitespace runs to one space and strip,
// then str.lower(). Everything works on Unicode scalars, as Python strings are sequences
// of code points.

enum CLIPTextCleaning {
    /// The cleaned text as scalars. `fixText: false` skips the ftfy step.
    static func clean(_ text: String, fixText: Bool = true) -> [Unicode.Scalar] {
        var scalars = Array(text.unicodeScalars)
        if fixText { scalars = FixText.fixText(scalars) }
        scalars = htmlUnescape(htmlUnescape(scalars))
        return pythonLower(collapseWhitespace(scalars))
    }

    // MARK: whitespace (Python str.split() / str.strip())

    /// Python's str.isspace(): bidirectional class WS, B or S, or category Zs.
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029,
             0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// " ".join(text.split()): runs of whitespace become one space, none at either end.
    static func collapseWhitespace(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var pendingSpace = false
        for s in text {
            if isPythonSpace(s) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(s)
            }
        }
        return out
    }

    // MARK: lower-case (Python str.lower())

    /// Full lower-case mapping per scalar, with Python's Final_Sigma rule for U+03A3
    /// (Σ becomes ς after a cased letter when no cased letter follows).
    static func pythonLower(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for (i, s) in text.enumerated() {
            if s.isASCII {
                out.append(s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(s.value + 32)! : s)
            } else if s.value == 0x3A3 {
                out.append(isFinalSigma(text, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    private static func isFinalSigma(_ text: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && text[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && text[j].properties.isCased else { return false }
        j = i + 1
        while j < text.count && text[j].properties.isCaseIgnorable { j += 1 }
        return j == text.count || !text[j].properties.isCased
    }

    // MARK: HTML character references (Python html.unescape)

    /// name (with its ';' if it has one) -> replacement, from html.entities.html5.
    /// Keyed by scalars, not String: String equality is canonical equivalence (U+037E
    /// would equal ';').
    static let namedReferences: [[Unicode.Scalar]: [Unicode.Scalar]] = {
        var table: [[Unicode.Scalar]: [Unicode.Scalar]] = [:]
        for line in htmlEntityTable.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            table[Array(parts[0].unicodeScalars)] = parts[1].split(separator: " ").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
        }
        return table
    }()

    /// Numeric references that HTML 5 maps elsewhere (Windows-1252 for 0x80...0x9F).
    private static let remappedNumeric: [UInt32: UInt32] = [
        0x00: 0xFFFD, 0x0D: 0x0D, 0x80: 0x20AC, 0x81: 0x81, 0x82: 0x201A, 0x83: 0x0192,
        0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02C6, 0x89: 0x2030,
        0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8D: 0x8D, 0x8E: 0x017D, 0x8F: 0x8F,
        0x90: 0x90, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022,
        0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A,
        0x9C: 0x0153, 0x9D: 0x9D, 0x9E: 0x017E, 0x9F: 0x0178,
    ]

    /// Windows-1252 decoding of a C1 byte 0x80...0x9F (undefined bytes stay as they are).
    static func windows1252(_ byte: UInt32) -> Unicode.Scalar { Unicode.Scalar(remappedNumeric[byte]!)! }

    /// Numeric references that become nothing (controls, non-characters).
    private static func isDroppedCodePoint(_ n: UInt32) -> Bool {
        switch n {
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F...0x9F, 0xFDD0...0xFDEF: return true
        default: return n & 0xFFFE == 0xFFFE
        }
    }

    private static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }
    private static func hexValue(_ s: Unicode.Scalar) -> UInt32? {
        switch s.value {
        case 0x30...0x39: return s.value - 0x30
        case 0x41...0x46: return s.value - 0x41 + 10
        case 0x61...0x66: return s.value - 0x61 + 10
        default: return nil
        }
    }

    /// Replaces every match of `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`
    /// the way html.unescape does; text without a reference is returned as is.
    static func htmlUnescape(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("&") else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            guard text[i] == "&", i + 1 < text.count else { out.append(text[i]); i += 1; continue }
            if let (replacement, end) = numericReference(text, amp: i) ?? namedReference(text, amp: i) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    /// `&#123;` / `&#x7B;` at `amp`: the replacement and the index after the match.
    private static func numericReference(_ text: [Unicode.Scalar], amp: Int) -> ([Unicode.Scalar], Int)? {
        guard text[amp + 1] == "#" else { return nil }
        var j = amp + 2
        let hex = j < text.count && (text[j] == "x" || text[j] == "X")
        if hex { j += 1 }
        let digitsStart = j
        var value: UInt32 = 0
        var overflow = false
        while j < text.count, let d = hex ? hexValue(text[j]) : (isASCIIDigit(text[j]) ? text[j].value - 0x30 : nil) {
            let (m, o1) = value.multipliedReportingOverflow(by: hex ? 16 : 10)
            let (a, o2) = m.addingReportingOverflow(d)
            overflow = overflow || o1 || o2
            value = a
            j += 1
        }
        guard j > digitsStart else { return nil }  // "&#" or "&#x" alone is no reference
        if j < text.count && text[j] == ";" { j += 1 }
        if overflow || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return (["\u{FFFD}"], j) }
        if let mapped = remappedNumeric[value] { return ([Unicode.Scalar(mapped)!], j) }
        if isDroppedCodePoint(value) { return ([], j) }
        return ([Unicode.Scalar(value)!], j)
    }

    /// `&name;` at `amp`: the longest known name, as html.unescape resolves it.
    private static func namedReference(_ text: [Unicode.Scalar], amp: Int) -> ([Unicode.Scalar], Int)? {
        // [^\t\n\f <&#;]{1,32};?
        var j = amp + 1
        while j < text.count, j - amp - 1 < 32 {
            switch text[j] { case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": break; default: j += 1; continue }
            break
        }
        guard j > amp + 1 else { return nil }
        if j < text.count && text[j] == ";" { j += 1 }
        let name = Array(text[(amp + 1)..<j])
        if let r = namedReferences[name] { return (r, j) }
        // The longest prefix (at least 2 scalars) that is a name; the rest stays as text.
        var x = name.count - 1
        while x > 1 {
            if let r = namedReferences[Array(name[0..<x])] {
                return (r + name[x...], j)
            }
            x -= 1
        }
        return (["&"] + name, j)
    }
}
