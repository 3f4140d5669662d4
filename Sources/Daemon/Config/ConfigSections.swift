// The YAML layout of the configuration, section by section (docs/config.md mirrors it).
import Decode
import Foundation
import Recognizer
import Yams

extension ConfigWalker {
    static let topKeys = ["models", "vocabulary", "streams", "publisher", "external_boxes",
                          "limits", "metrics", "service", "log_level", "node", "security"]

    func daemon(_ root: Node) -> DaemonConfig? {
        guard let m = mapping(root, "", keys: Self.topKeys) else { return nil }

        var modelDirectory: String?
        var recognizer = RecognizerKind.regionspot
        var precision = Precision.auto
        var acceptance = AcceptanceConfig()
        if let models = m["models"], let mm = mapping(models, "models", keys: ["directory", "recognizer", "precision", "acceptance"]) {
            modelDirectory = required(mm, "directory", "models", at: models) { n, p in self.directory(n, p) }
            recognizer = opt(mm, "recognizer", "models") { self.choice($0, $1, RecognizerKind.self) } ?? recognizer
            if let p = opt(mm, "precision", "models", { self.choice($0, $1, Precision.self) }) {
                precision = p
            }
            if let a = mm["acceptance"] { acceptance = self.acceptance(a, "models.acceptance") }
        } else if m["models"] == nil {
            problem(root, "models", "required section is missing (models.directory at least)")
        }

        var vocabulary: [VocabularyEntry] = []
        var vocabularySource = "inline"
        if let v = m["vocabulary"] {
            (vocabulary, vocabularySource) = self.vocabulary(v, "vocabulary") ?? ([], "inline")
        } else {
            problem(root, "vocabulary", "required key is missing (a list of class names or \"@file\")")
        }

        let externalEndpoint: String? = m["external_boxes"].flatMap { node in
            guard let em = mapping(node, "external_boxes", keys: ["endpoint"]) else { return nil }
            return opt(em, "endpoint", "external_boxes") { self.endpoint($0, $1) }
        }

        var streams: [StreamConfig] = []
        var streamNodes: [(index: Int, node: Node)] = []
        if let s = m["streams"], let list = sequence(s, "streams") {
            if list.isEmpty { problem(s, "streams", "at least one stream is needed") }
            var seen: [String: Int] = [:]
            for (i, node) in list.enumerated() {
                let path = "streams[\(i)]"
                guard let stream = self.stream(node, path, external: externalEndpoint != nil) else { continue }
                if let first = seen[stream.id] {
                    problem(node, "\(path).id", "'\(stream.id)' is already used by streams[\(first)]")
                } else {
                    seen[stream.id] = i
                }
                streams.append(stream)
                streamNodes.append((i, node))
            }
        } else if m["streams"] == nil {
            problem(root, "streams", "required key is missing (a list of streams)")
        }

        var config = DaemonConfig(file: file, modelDirectory: modelDirectory ?? "", vocabulary: vocabulary,
                                  vocabularySource: vocabularySource, streams: streams)
        config.recognizer = recognizer
        config.precision = precision
        config.acceptance = acceptance
        config.externalBoxesEndpoint = externalEndpoint
        if let p = m["publisher"] { config.publisher = publisher(p, "publisher") }
        if let l = m["limits"] { config.limits = limits(l, "limits") }
        if let x = m["metrics"] { config.metrics = metrics(x, "metrics") }
        if let s = m["service"] { config.service = service(s, "service") }
        config.logLevel = opt(m, "log_level", "") { self.choice($0, $1, LogLevel.self) } ?? .info
        config.node = opt(m, "node", "") { self.node($0, $1) }
        if let s = m["security"] { config.curve = security(s, "security") }
        checkCurve(config, m)

        // A label may age up to max_interval by design: it must fit in max_label_age.
        for (s, at) in zip(config.streams, streamNodes) where s.keyframes.maxInterval > config.limits.maxLabelAge {
            problem(at.node["keyframes"]?["max_interval"] ?? at.node, "streams[\(at.index)].keyframes.max_interval",
                    "max_interval (\(fmt(s.keyframes.maxInterval)) s) is longer than limits.max_label_age (\(fmt(config.limits.maxLabelAge)) s): the stream would count as overloaded whenever it rests")
        }
        if let ext = externalEndpoint, config.publisher.endpoints.contains(ext) {
            problem(m["external_boxes"], "external_boxes.endpoint", "\(ext) is also a publisher endpoint")
        }
        return modelDirectory == nil ? nil : config
    }

    func directory(_ node: Node, _ path: String) -> String? {
        guard let s = string(node, path) else { return nil }
        let full = resolve(s)
        if checkFiles {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: full, isDirectory: &isDir) {
                problem(node, path, "directory \(full) does not exist")
            } else if !isDir.boolValue {
                problem(node, path, "\(full) is not a directory")
            }
        }
        return full
    }

    // MARK: Vocabulary

    /// A list of entries, or "@file" with one entry per line (`#` comments, blank lines skipped).
    func vocabulary(_ node: Node, _ path: String) -> ([VocabularyEntry], String)? {
        var lines: [(String, Node, String)] = []  // (text, node for line numbers, key path)
        var source = "inline"
        if let s = node.scalar?.string, s.hasPrefix("@") {
            let full = resolve(String(s.dropFirst()))
            source = full
            guard let text = try? String(contentsOfFile: full, encoding: .utf8) else {
                problem(node, path, "cannot read vocabulary file \(full)")
                return nil
            }
            for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                lines.append((line, node, "\(path) (\(full):\(i + 1))"))
            }
        } else if let list = node.sequence {
            for (i, item) in list.enumerated() {
                guard let s = string(item, "\(path)[\(i)]") else { continue }
                lines.append((s, item, "\(path)[\(i)]"))
            }
        } else {
            problem(node, path, "expected a list of class names or \"@file\", found \(kind(node))")
            return nil
        }
        var entries: [VocabularyEntry] = []
        var seen: [String: String] = [:]
        for (text, n, p) in lines {
            let names = text.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if names.contains(where: \.isEmpty) { problem(n, p, "'\(text)' has an empty name (check the '|')"); continue }
            let entry = VocabularyEntry(label: names[0], names: names)
            if let other = seen[entry.label.lowercased()] { problem(n, p, "'\(entry.label)' is already listed at \(other)"); continue }
            seen[entry.label.lowercased()] = p
            entries.append(entry)
        }
        if entries.isEmpty && problems.isEmpty { problem(node, path, "the vocabulary is empty") }
        return (entries, source)
    }

    // MARK: Streams

    static let streamKeys = ["id", "url", "transport", "loop", "keyframes", "proposals", "publish_rate", "priority"]

    func stream(_ node: Node, _ path: String, external: Bool) -> StreamConfig? {
        guard let m = mapping(node, path, keys: Self.streamKeys) else { return nil }
        let id = required(m, "id", path, at: node) { n, p -> String? in
            guard let s = self.string(n, p) else { return nil }
            let ok = s.count <= 64 && s.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-" || $0 == "_"
            }
            if !ok { self.problem(n, p, "'\(s)' must be 1-64 characters of A-Z a-z 0-9 - _ (it is part of topic names)") }
            return ok ? s : nil
        }
        let url = required(m, "url", path, at: node) { self.streamURL($0, $1) }
        var s = StreamConfig(id: id ?? "", url: url ?? "")
        s.transport = opt(m, "transport", path) { self.choice($0, $1, Transport.self) } ?? s.transport
        s.loop = opt(m, "loop", path) { self.bool($0, $1) } ?? s.loop
        if s.loop, let u = url, isNetworkURL(u) {
            problem(m["loop"], join(path, "loop"), "loop applies to files only, not to \(Redaction.redact(u))")
        }
        if let k = m["keyframes"] { s.keyframes = keyframes(k, join(path, "keyframes")) }
        if let p = m["proposals"] { s.proposals = proposals(p, join(path, "proposals"), external: external) }
        s.publishRate = opt(m, "publish_rate", path) { self.double($0, $1, min: 0) } ?? s.publishRate
        s.priority = opt(m, "priority", path) { self.int($0, $1, min: -100, max: 100) } ?? s.priority
        return id == nil || url == nil ? nil : s
    }

    func isNetworkURL(_ u: String) -> Bool { u.contains("://") && !u.hasPrefix("file:") }

    func streamURL(_ node: Node, _ path: String) -> String? {
        guard let s = string(node, path) else { return nil }
        if let r = s.range(of: "://") {
            let scheme = s[..<r.lowerBound].lowercased()
            guard ["rtsp", "rtsps", "file"].contains(scheme) else {
                problem(node, path, "scheme '\(scheme)' is not supported (rtsp, rtsps, file or a path)")
                return nil
            }
            if scheme == "file" { checkFile(node, path, String(s[r.upperBound...])) }
            return s
        }
        let full = resolve(s)
        checkFile(node, path, full)
        return full
    }

    func checkFile(_ node: Node, _ path: String, _ file: String) {
        if checkFiles && !FileManager.default.isReadableFile(atPath: file) {
            problem(node, path, "video file \(file) does not exist or is not readable")
        }
    }

    /// models.acceptance: overrides of the model's calibrated settings (model.json).
    func acceptance(_ node: Node, _ path: String) -> AcceptanceConfig {
        var a = AcceptanceConfig()
        guard let m = mapping(node, path, keys: ["min_score", "min_mask_iou", "min_proposal_score", "background"]) else { return a }
        a.minScore = opt(m, "min_score", path) { self.double($0, $1, min: 0, max: 1) }
        a.minMaskIoU = opt(m, "min_mask_iou", path) { self.double($0, $1, min: 0, max: 1) }
        a.minProposalScore = opt(m, "min_proposal_score", path) { self.double($0, $1, min: 0, max: 1) }
        if let b = m["background"], let list = sequence(b, join(path, "background")) {
            a.background = list.enumerated().compactMap { i, n in self.string(n, "\(join(path, "background"))[\(i)]") }
        }
        return a
    }

    func keyframes(_ node: Node, _ path: String) -> KeyframePolicy {
        var k = KeyframePolicy()
        guard let m = mapping(node, path, keys: ["min_interval", "max_interval", "prefer_codec_keyframes", "on_demand"]) else { return k }
        k.onDemand = opt(m, "on_demand", path) { self.bool($0, $1) } ?? k.onDemand
        k.minInterval = opt(m, "min_interval", path) { self.double($0, $1, min: 0) } ?? k.minInterval
        k.maxInterval = opt(m, "max_interval", path) { self.double($0, $1, above: 0) } ?? k.maxInterval
        k.preferCodecKeyframes = opt(m, "prefer_codec_keyframes", path) { self.bool($0, $1) } ?? k.preferCodecKeyframes
        if k.minInterval > k.maxInterval {
            problem(m["min_interval"] ?? m["max_interval"] ?? node, join(path, "min_interval"),
                    "min_interval (\(fmt(k.minInterval)) s) is greater than max_interval (\(fmt(k.maxInterval)) s)")
        }
        return k
    }

    func proposals(_ node: Node, _ path: String, external: Bool) -> ProposalConfig {
        var p = ProposalConfig()
        guard let m = mapping(node, path, keys: ["sources", "zones", "everything_interval", "everything_grid", "max_boxes", "dedup_iou"]) else { return p }
        if let s = m["sources"], let list = sequence(s, join(path, "sources")) {
            var sources: [ProposalSource] = []
            for (i, item) in list.enumerated() {
                guard let src = choice(item, "\(join(path, "sources"))[\(i)]", ProposalSource.self) else { continue }
                if sources.contains(src) { problem(item, "\(join(path, "sources"))[\(i)]", "'\(src.rawValue)' is listed twice"); continue }
                sources.append(src)
            }
            if list.isEmpty { problem(s, join(path, "sources"), "at least one proposal source is needed") }
            p.sources = sources
        }
        if let z = m["zones"], let list = sequence(z, join(path, "zones")) {
            var names = Set<String>()
            for (i, item) in list.enumerated() {
                let zp = "\(join(path, "zones"))[\(i)]"
                guard let zm = mapping(item, zp, keys: ["name", "box"]) else { continue }
                let name = required(zm, "name", zp, at: item) { self.string($0, $1) }
                let box = required(zm, "box", zp, at: item) { self.box($0, $1) }
                if let name, !names.insert(name).inserted { problem(zm["name"], join(zp, "name"), "zone '\(name)' is defined twice") }
                if let name, let box { p.zones.append(Zone(name: name, box: box)) }
            }
        }
        p.everythingInterval = opt(m, "everything_interval", path) { self.double($0, $1, above: 0) } ?? p.everythingInterval
        p.everythingGrid = opt(m, "everything_grid", path) { self.int($0, $1, min: 1, max: 64) } ?? p.everythingGrid
        p.maxBoxes = opt(m, "max_boxes", path) { self.int($0, $1, min: 1, max: 1024) } ?? p.maxBoxes
        p.dedupIoU = opt(m, "dedup_iou", path) { self.double($0, $1, min: 0, max: 1) } ?? p.dedupIoU
        if p.sources.contains(.zones) && p.zones.isEmpty && m["zones"] == nil {
            problem(m["sources"], join(path, "sources"), "'zones' is listed but no zones are defined")
        }
        if !p.zones.isEmpty && !p.sources.contains(.zones) {
            problem(m["zones"], join(path, "zones"), "zones are defined but 'zones' is not in sources")
        }
        if p.sources.contains(.external) && !external {
            problem(m["sources"], join(path, "sources"), "'external' needs external_boxes.endpoint to be set")
        }
        return p
    }

    /// [x1, y1, x2, y2] in source pixels with x1 < x2 and y1 < y2.
    func box(_ node: Node, _ path: String) -> [Double]? {
        guard let list = sequence(node, path) else { return nil }
        let v = list.compactMap { $0.scalar?.string }.compactMap(Double.init).filter(\.isFinite)
        guard list.count == 4, v.count == 4 else { problem(node, path, "expected [x1, y1, x2, y2] (four numbers)"); return nil }
        guard v[0] < v[2], v[1] < v[3], v.allSatisfy({ $0 >= 0 }) else {
            problem(node, path, "needs 0 <= x1 < x2 and 0 <= y1 < y2, found \(v.map(fmt))"); return nil
        }
        return v
    }

    // MARK: Publisher, limits, metrics, service

    func publisher(_ node: Node, _ path: String) -> PublisherConfig {
        var p = PublisherConfig()
        guard let m = mapping(node, path, keys: ["endpoints", "send_hwm", "linger", "overflow", "nodrop"]) else { return p }
        if let e = m["endpoints"] {
            let items: [Node] = e.scalar != nil ? [e] : (sequence(e, join(path, "endpoints")) ?? [])
            var binds: [String] = [], connects: [ConnectEndpoint] = []
            for (i, item) in items.enumerated() {
                let ip = e.scalar != nil ? join(path, "endpoints") : "\(join(path, "endpoints"))[\(i)]"
                guard let entry = publisherEndpoint(item, ip) else { continue }
                let ep = entry.bind ?? entry.connect!.endpoint
                if binds.contains(ep) || connects.contains(where: { $0.endpoint == ep }) { problem(item, ip, "\(ep) is listed twice"); continue }
                if let b = entry.bind { binds.append(b) } else { connects.append(entry.connect!) }
            }
            if items.isEmpty { problem(e, join(path, "endpoints"), "at least one endpoint is needed") }
            p.endpoints = binds
            p.connect = connects
        }
        p.sendHighWaterMark = opt(m, "send_hwm", path) { self.int($0, $1, min: 1, max: 1_000_000) } ?? p.sendHighWaterMark
        p.linger = opt(m, "linger", path) { self.double($0, $1, min: 0, max: 60) } ?? p.linger
        p.overflow = opt(m, "overflow", path) { self.choice($0, $1, OverflowPolicy.self) } ?? p.overflow
        p.nodrop = opt(m, "nodrop", path) { self.bool($0, $1) } ?? p.nodrop
        return p
    }

    /// A ZeroMQ endpoint the daemon binds: tcp://HOST:PORT or ipc://PATH.
    func endpoint(_ node: Node, _ path: String) -> String? {
        guard let s = string(node, path) else { return nil }
        if s.hasPrefix("ipc://"), s.count > 6 { return s }
        if s.hasPrefix("tcp://"), let (_, port) = splitHostPort(String(s.dropFirst(6))), port == "*" || UInt16(port).map({ $0 > 0 }) == true {
            return s
        }
        problem(node, path, "'\(s)' is not tcp://HOST:PORT or ipc://PATH")
        return nil
    }

    /// Keys a configuration may still carry from an older version, and why they were
    /// removed: naming them beats "unknown key", and a setting that does nothing is refused.
    static let removedLimits = [
        "frame_queue": "was removed: tracking runs inline on each stream's decode thread, so decoded frames never wait in a queue; delete the key",
    ]

    func limits(_ node: Node, _ path: String) -> LimitsConfig {
        var l = LimitsConfig()
        guard let m = mapping(node, path, keys: ["publish_queue", "external_queue", "max_boxes_per_keyframe", "recognizer_workers",
                                                 "blas_threads", "recognizer_nice", "decoder_threads", "max_label_age"], removed: Self.removedLimits) else { return l }
        l.publishQueue = opt(m, "publish_queue", path) { self.int($0, $1, min: 1, max: 1_000_000) } ?? l.publishQueue
        l.externalQueue = opt(m, "external_queue", path) { self.int($0, $1, min: 1, max: 100_000) } ?? l.externalQueue
        l.maxBoxesPerKeyframe = opt(m, "max_boxes_per_keyframe", path) { self.int($0, $1, min: 1, max: 4096) } ?? l.maxBoxesPerKeyframe
        l.recognizerWorkers = opt(m, "recognizer_workers", path) { self.int($0, $1, min: 1, max: 64) } ?? l.recognizerWorkers
        l.blasThreads = opt(m, "blas_threads", path) { self.int($0, $1, min: 0, max: 256) } ?? l.blasThreads
        l.recognizerNice = opt(m, "recognizer_nice", path) { self.int($0, $1, min: 0, max: 19) } ?? l.recognizerNice
        l.decoderThreads = opt(m, "decoder_threads", path) { self.int($0, $1, min: 0, max: 64) } ?? l.decoderThreads
        l.maxLabelAge = opt(m, "max_label_age", path) { self.double($0, $1, max: 86_400, above: 0) } ?? l.maxLabelAge
        // OpenBLAS's thread count and the kernel pool are process-wide: several workers each
        // run single-threaded (blas_threads 0 means 1 then).
        if l.recognizerWorkers > 1, l.blasThreads > 1, let n = m["blas_threads"] {
            problem(n, join(path, "blas_threads"), "must be 1 (or 0) with recognizer_workers \(l.recognizerWorkers): each worker runs single-threaded (OpenBLAS's thread count is process-wide); found \(l.blasThreads)")
        }
        return l
    }

    func metrics(_ node: Node, _ path: String) -> MetricsConfig {
        var x = MetricsConfig()
        guard let m = mapping(node, path, keys: ["textfile", "listen", "interval", "live_fps", "live_fps_busy", "live_width", "max_watchers", "token"]) else { return x }
        x.textfile = opt(m, "textfile", path) { n, p -> String? in
            guard let s = self.string(n, p) else { return nil }
            let full = self.resolve(s)
            if !full.hasSuffix(".prom") { self.problem(n, p, "must end in .prom (node_exporter reads only *.prom)") }
            let dir = (full as NSString).deletingLastPathComponent
            if self.checkFiles && !FileManager.default.fileExists(atPath: dir) { self.problem(n, p, "directory \(dir) does not exist") }
            return full
        }
        x.listen = opt(m, "listen", path) { n, p -> String? in
            guard let s = self.string(n, p) else { return nil }
            guard let (_, port) = splitHostPort(s), let v = UInt16(port), v > 0 else {
                self.problem(n, p, "'\(s)' is not HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)"); return nil
            }
            return s
        }
        x.interval = opt(m, "interval", path) { self.double($0, $1, min: 0.1, max: 3600) } ?? x.interval
        x.liveFPS = opt(m, "live_fps", path) { self.double($0, $1, min: 0.2, max: 30) } ?? x.liveFPS
        let fps = x.liveFPS
        x.liveFPSBusy = opt(m, "live_fps_busy", path) { n, p -> Double? in
            guard let v = self.double(n, p, min: 0, max: 30) else { return nil }
            if v > 0 && v < 0.2 { self.problem(n, p, "must be 0 (no throttle) or at least 0.2, found \(n.scalar?.string ?? "")"); return nil }
            if v > fps { self.problem(n, p, "must be at most live_fps (\(self.fmt(fps))): it holds pictures back while the recognizer is busy, found \(n.scalar?.string ?? "")"); return nil }
            return v
        } ?? min(x.liveFPSBusy, fps)
        x.liveWidth = opt(m, "live_width", path) { self.int($0, $1, min: 160, max: 7680) } ?? x.liveWidth
        x.maxWatchers = opt(m, "max_watchers", path) { self.int($0, $1, min: 0, max: 64) } ?? x.maxWatchers
        // The token's value never appears in a problem (nor anywhere else).
        x.token = opt(m, "token", path) { n, p -> String? in
            guard let s = self.string(n, p) else { return nil }
            if s.count < 16 || s.contains(where: { $0.isWhitespace || !$0.isASCII }) {
                self.problem(n, p, "must be at least 16 printable ASCII characters without spaces (value not shown)"); return nil
            }
            return s
        }
        return x
    }

    func service(_ node: Node, _ path: String) -> ServiceConfig {
        var s = ServiceConfig()
        guard let m = mapping(node, path, keys: ["stall_timeout", "drain_timeout", "healthz_overloaded"]) else { return s }
        s.stallTimeout = opt(m, "stall_timeout", path) { self.double($0, $1, min: 1, max: 3600) } ?? s.stallTimeout
        s.drainTimeout = opt(m, "drain_timeout", path) { self.double($0, $1, min: 0, max: 600) } ?? s.drainTimeout
        s.healthzOverloaded = opt(m, "healthz_overloaded", path) { n, p -> Int? in
            guard let v = self.int(n, p, min: 200, max: 503) else { return nil }
            if v != 200 && v != 503 { self.problem(n, p, "must be 200 (healthy, with a warning) or 503 (unavailable); found \(v)") }
            return v == 200 || v == 503 ? v : nil
        } ?? s.healthzOverloaded
        return s
    }
}

/// "host:port" or "[v6]:port" -> (host, port); nil when there is no port.
func splitHostPort(_ s: String) -> (String, String)? {
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
        let host = String(s[s.index(after: s.startIndex)..<close])
        let rest = s[s.index(after: close)...]
        guard rest.hasPrefix(":"), rest.count > 1 else { return nil }
        return (host, String(rest.dropFirst()))
    }
    guard let colon = s.lastIndex(of: ":"), colon != s.startIndex else { return nil }
    let host = String(s[..<colon]), port = String(s[s.index(after: colon)...])
    guard !host.contains(":"), !port.isEmpty else { return nil }
    return (host, port)
}
