// Reads and validates the YAML configuration. Every problem is collected (not just the
// first) and named by file, line, key path and reason, so an operator fixes a file in one
// pass; unknown keys are problems too (a typo must not silently fall back to a default).
import Foundation
import Yams

public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String
    public var description: String {
        let at = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(at): \(message)" : "\(at): \(path): \(message)"
    }
}

public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

public enum ConfigLoader {
    /// Reads `file` and validates it. `checkFiles` also checks that referenced paths exist
    /// (model directory, vocabulary file, file streams, metrics directory).
    public static func load(file: String, checkFiles: Bool = true) throws(ConfigError) -> DaemonConfig {
        let url = URL(fileURLWithPath: file).standardizedFileURL
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError(problems: [ConfigProblem(
                file: file, line: nil, path: "", message: "cannot read: \(describeIOError(error))")])
        }
        // Decoded here, not by String(contentsOf:), whose error for bad bytes says only
        // "the file isn't in the correct format".
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(problems: [ConfigProblem(file: file, line: nil, path: "", message: "cannot read: not UTF-8 text")])
        }
        return try parse(yaml: text, file: url.path, checkFiles: checkFiles)
    }

    public static func parse(yaml: String, file: String, checkFiles: Bool = true) throws(ConfigError) -> DaemonConfig {
        let walker = ConfigWalker(file: file, checkFiles: checkFiles)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(problems: [walker.yamlProblem(error)])
        } catch {
            throw ConfigError(problems: [ConfigProblem(file: file, line: nil, path: "", message: "\(error)")])
        }
        guard let root else {
            throw ConfigError(problems: [ConfigProblem(file: file, line: nil, path: "", message: "the file is empty")])
        }
        let config = walker.daemon(root)
        if let config, walker.problems.isEmpty { return config }
        // In file order (stable: problems on one line keep the order they were found in).
        let ordered = walker.problems.enumerated().sorted {
            ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset)
        }.map(\.element)
        throw ConfigError(problems: ordered)
    }

    static func describeIOError(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch ns.code {
        case NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        case NSFileReadInapplicableStringEncodingError: return "not UTF-8 text"
        default: return ns.localizedDescription
        }
    }
}

/// Reports problems while it reads typed values out of the YAML node tree.
final class ConfigWalker {
    let file: String
    let checkFiles: Bool
    var problems: [ConfigProblem] = []
    var directory: String { (file as NSString).deletingLastPathComponent }

    init(file: String, checkFiles: Bool) { self.file = file; self.checkFiles = checkFiles }

    func problem(_ node: Node?, _ path: String, _ message: String) {
        problems.append(ConfigProblem(file: file, line: node?.mark?.line, path: path, message: message))
    }

    func yamlProblem(_ error: YamlError) -> ConfigProblem {
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return ConfigProblem(file: file, line: mark.line, path: "", message: "not valid YAML: \(problem)")
        case let .reader(problem, offset, _, yaml):  // bytes YAML does not allow (control characters, bad UTF-8)
            let line = offset.map { o in yaml.utf8.prefix(o).reduce(1) { $0 + ($1 == 10 ? 1 : 0) } }
            return ConfigProblem(file: file, line: line, path: "", message: "not valid YAML: \(problem)")
        default:  // one line: Yams' own description quotes the offending text below it
            return ConfigProblem(file: file, line: nil, path: "", message: "not valid YAML: " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " "))
        }
    }

    // MARK: Generic readers

    /// A mapping's entries by key; unknown and duplicate keys are problems, and so are
    /// `removed` keys (key -> why), which are never returned.
    func mapping(_ node: Node, _ path: String, keys: [String], removed: [String: String] = [:]) -> [String: Node]? {
        guard let map = node.mapping else {
            problem(node, path, "expected a mapping (key: value), found \(kind(node))")
            return nil
        }
        var out: [String: Node] = [:]
        for (k, v) in map {
            guard let key = k.scalar?.string else { problem(k, path, "keys must be plain strings"); continue }
            let sub = join(path, key)
            if let why = removed[key] { problem(k, sub, why); continue }
            if !keys.contains(key) {
                let hint = suggestion(key, keys).map { " (did you mean '\($0)'?)" } ?? ""
                problem(k, sub, "unknown key\(hint); allowed here: \(keys.joined(separator: ", "))")
                continue
            }
            if out[key] != nil { problem(k, sub, "duplicate key"); continue }
            if isNull(v) { continue }  // `key:` or `key: ~` means "use the default"
            out[key] = v
        }
        return out
    }

    func string(_ node: Node, _ path: String) -> String? {
        guard let s = node.scalar?.string else { problem(node, path, "expected a string, found \(kind(node))"); return nil }
        if s.isEmpty { problem(node, path, "must not be empty"); return nil }
        return s
    }

    func double(_ node: Node, _ path: String, min: Double? = nil, max: Double? = nil, above: Double? = nil) -> Double? {
        guard let s = node.scalar?.string, let v = Double(s), v.isFinite else {
            problem(node, path, "expected a number, found \(show(node))"); return nil
        }
        if let min, v < min { problem(node, path, "must be at least \(fmt(min)), found \(s)"); return nil }
        if let above, v <= above { problem(node, path, "must be greater than \(fmt(above)), found \(s)"); return nil }
        if let max, v > max { problem(node, path, "must be at most \(fmt(max)), found \(s)"); return nil }
        return v
    }

    func int(_ node: Node, _ path: String, min: Int, max: Int) -> Int? {
        guard let s = node.scalar?.string, let v = Int(s) else {
            problem(node, path, "expected an integer, found \(show(node))"); return nil
        }
        if v < min || v > max { problem(node, path, "must be between \(min) and \(max), found \(v)"); return nil }
        return v
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        guard node.scalar != nil, let b = node.bool else {
            problem(node, path, "expected true or false, found \(show(node))"); return nil
        }
        return b
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _: E.Type) -> E? where E.RawValue == String {
        guard let s = node.scalar?.string else { problem(node, path, "expected a string, found \(kind(node))"); return nil }
        guard let v = E(rawValue: s) else {
            let all = E.allCases.map(\.rawValue).joined(separator: ", ")
            problem(node, path, "'\(s)' is not one of: \(all)"); return nil
        }
        return v
    }

    func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard let seq = node.sequence else { problem(node, path, "expected a list, found \(kind(node))"); return nil }
        return Array(seq)
    }

    /// Reads `m[key]` with `read` when present; returns nil when absent (default applies).
    func opt<T>(_ m: [String: Node], _ key: String, _ path: String, _ read: (Node, String) -> T?) -> T? {
        guard let n = m[key] else { return nil }
        return read(n, join(path, key))
    }

    func required<T>(_ m: [String: Node], _ key: String, _ path: String, at node: Node, _ read: (Node, String) -> T?) -> T? {
        guard let n = m[key] else { problem(node, join(path, key), "required key is missing"); return nil }
        return read(n, join(path, key))
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    func isNull(_ n: Node) -> Bool { n.scalar != nil && n.null != nil && n.scalar?.style == .plain }
    func kind(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
    func show(_ n: Node) -> String { kind(n) }
    /// Whole numbers without ".0"; beyond Int's range (max_interval: 1e300) as Swift prints them.
    func fmt(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    func suggestion(_ key: String, _ keys: [String]) -> String? {
        let scored = keys.map { ($0, editDistance(key.lowercased(), $0)) }.min { $0.1 < $1.1 }
        guard let (best, d) = scored, d <= max(2, key.count / 3) else { return nil }
        return best
    }

    func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1..<(b.count + 1) {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}
