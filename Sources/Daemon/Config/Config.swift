// The daemon's configuration as typed values. `ConfigLoader` builds it from one YAML file
// (docs/config.md documents every key); everything here is already validated.
import Foundation
import Recognizer

/// Which recognizer the daemon runs on keyframes.
public enum RecognizerKind: String, Sendable, Equatable, CaseIterable {
    /// RegionSpot: SAM region tokens + CLIP feature map through the RegionSpot module.
    case regionspot
    /// Baseline: CLIP on each cropped box, no SAM.
    case clipCrop = "clip-crop"
}

/// Where a keyframe's boxes come from, in merge priority order.
public enum ProposalSource: String, Sendable, Equatable, Codable, CaseIterable {
    case tracked, external, zones, motion, everything
}

public enum Transport: String, Sendable, Equatable, CaseIterable { case tcp, udp }

/// What the publisher's bounded queue does when it is full.
public enum OverflowPolicy: String, Sendable, Equatable, CaseIterable {
    case dropOldest = "drop_oldest"
    case dropNewest = "drop_newest"
}

/// One vocabulary entry: the label published and the names it is recognized by
/// (`car|automobile` -> label "car", synonyms ["car", "automobile"]).
public struct VocabularyEntry: Sendable, Equatable {
    public var label: String
    public var names: [String]
    public init(label: String, names: [String]) { self.label = label; self.names = names }

    /// One entry per label of a parsed vocabulary (`--vocab "a,b|c"` or `@file`).
    static func entries(_ v: Recognizer.Vocabulary) -> [VocabularyEntry] {
        zip(v.labels, v.names).map { VocabularyEntry(label: $0, names: $1) }
    }
}

public struct Zone: Sendable, Equatable {
    public var name: String
    /// [x1, y1, x2, y2] in source pixels.
    public var box: [Double]
}

public struct KeyframePolicy: Sendable, Equatable {
    /// Never recognize twice within this many seconds (stream time).
    public var minInterval: Double = 1.0
    /// Always recognize at least this often, codec keyframe or not.
    public var maxInterval: Double = 10.0
    /// Prefer codec I-frames as recognition points when one falls inside the window.
    public var preferCodecKeyframes: Bool = true
    /// Run the encoders on such a keyframe only when something needs them (a new moving
    /// region, a track asking, zones/external/everything due, max_interval reached).
    public var onDemand: Bool = true
}

public struct ProposalConfig: Sendable, Equatable {
    public var sources: [ProposalSource] = [.tracked, .motion, .everything]
    public var zones: [Zone] = []
    /// Seconds between "everything" (SAM automatic) passes; it also runs at stream start.
    public var everythingInterval: Double = 60
    /// Everything mode's prompt grid: n x n points.
    public var everythingGrid: Int = 16
    /// Boxes recognized per keyframe at most, after de-duplication (highest priority first).
    public var maxBoxes: Int = 64
    /// Boxes from different sources with IoU above this are one region.
    public var dedupIoU: Double = 0.7
}

public struct StreamConfig: Sendable, Equatable {
    public var id: String
    /// As written in the file; may hold credentials — log `Redaction.redact(url)` only.
    public var url: String
    public var transport: Transport = .tcp
    /// Files only: start again at the end.
    public var loop: Bool = false
    public var keyframes = KeyframePolicy()
    public var proposals = ProposalConfig()
    /// Regions messages per second at most; 0 = one per processed frame.
    public var publishRate: Double = 0
    /// Under overload: higher sheds later and is recognized first once its label is older
    /// than limits.max_label_age (-100...100).
    public var priority: Int = 0
}

/// A publisher endpoint the daemon connects to (an aggregator's proxy), reconnecting as
/// libzmq does; `serverKey` is the file with the server's CURVE public key.
public struct ConnectEndpoint: Sendable, Equatable {
    public var endpoint: String
    public var serverKey: String?
    public init(endpoint: String, serverKey: String? = nil) { self.endpoint = endpoint; self.serverKey = serverKey }
}

/// security.curve: this process's secret key file and the directory of client public
/// keys (`*.pub`) its bound sockets let in.
public struct CurveConfig: Sendable, Equatable {
    public var secretKey: String
    public var authorizedKeys: String?
    public init(secretKey: String, authorizedKeys: String? = nil) { self.secretKey = secretKey; self.authorizedKeys = authorizedKeys }
}

public struct PublisherConfig: Sendable, Equatable {
    /// Endpoints bound (a plain string or `{bind: ...}` in the file).
    public var endpoints: [String] = ["tcp://127.0.0.1:5556"]
    /// Endpoints connected to (`{connect: ..., server_key: ...}`).
    public var connect: [ConnectEndpoint] = []
    /// ZMQ_SNDHWM: messages queued per subscriber inside libzmq.
    public var sendHighWaterMark: Int = 1000
    /// ZMQ_LINGER in seconds: how long close waits to flush.
    public var linger: Double = 1.0
    public var overflow: OverflowPolicy = .dropOldest
    /// ZMQ_XPUB_NODROP: refuse (and count) a message when any subscriber is at its HWM.
    public var nodrop: Bool = false
}

public struct LimitsConfig: Sendable, Equatable {
    /// Messages buffered in front of the publisher thread.
    public var publishQueue: Int = 4096
    /// External-box messages buffered per stream.
    public var externalQueue: Int = 64
    public var maxBoxesPerKeyframe: Int = 64
    /// Recognizer threads sharing the streams; above 1 each runs single-threaded.
    public var recognizerWorkers: Int = 1
    /// OpenBLAS threads of the recognizer (0 = leave OpenBLAS's default; 1 with several workers).
    public var blasThreads: Int = 0
    /// Nice value of the recognizer's threads (its own, its kernel pool's, OpenBLAS's):
    /// decoding and tracking keep the default 0 and come first when the cores are busy.
    public var recognizerNice: Int = 10
    /// FFmpeg decoding threads per stream; 0 = the cores shared out among the streams
    /// (at least 1: with as many streams as cores, one thread each decodes with the least
    /// overhead and memory, and gives reproducible motion vectors).
    public var decoderThreads: Int = 0
    /// Seconds a stream's label may age before the daemon is overloaded: rounds of
    /// recognition longer than this make streams shed per-frame work (docs/config.md).
    public var maxLabelAge: Double = 120

    /// Threads each recognizer worker computes with: the blas_threads setting with one
    /// worker (0 = OpenBLAS's default), 1 with several.
    public var recognizerThreads: Int { recognizerWorkers > 1 ? 1 : blasThreads }

    /// Decoder threads for each of `streams` streams on `cores` cores.
    public func decoderThreads(streams: Int, cores: Int) -> Int {
        decoderThreads > 0 ? decoderThreads : max(1, cores / max(1, streams))
    }
}

public struct MetricsConfig: Sendable, Equatable {
    /// node_exporter textfile-collector path (`*.prom`), written atomically.
    public var textfile: String? = nil
    /// `host:port` of a tiny HTTP endpoint serving GET /metrics.
    public var listen: String? = nil
    /// Seconds between textfile writes and between periodic status messages.
    public var interval: Double = 10
    /// Live pages: pictures drawn per second per stream at most, while someone watches.
    public var liveFPS: Double = 5
    /// Live pages: pictures per second per stream at most while the recognizer is busy (it
    /// has worked 1 s or more without a break); 0 = no throttle (liveFPS always). At most liveFPS.
    public var liveFPSBusy: Double = 1
    /// Live pages: pictures are at most this many pixels wide (scaled down while the frame
    /// is converted, aspect kept, never enlarged).
    public var liveWidth: Int = 640
    /// Live pages: event and MJPEG streams (watchers; an open page holds two) open at once
    /// at most; 0 turns the pages off.
    public var maxWatchers: Int = 8
    /// Bearer token the listener asks for (every path but /healthz); nil = none, and
    /// then the live pages answer loopback peers only. Never logged.
    public var token: String? = nil
}

public struct ServiceConfig: Sendable, Equatable {
    /// A pipeline component silent for this many seconds is wedged: watchdog pings stop.
    public var stallTimeout: Double = 30
    /// SIGTERM: seconds allowed to drain before exiting anyway.
    public var drainTimeout: Double = 5
    /// GET /healthz while overloaded (shedding or a label older than max_label_age):
    /// 200 with a warning body, or 503.
    public var healthzOverloaded: Int = 200
}

public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// models.acceptance: overrides of what the model's model.json calibrated (nil = the
/// model's value, else the built-in default: docs/config.md).
public struct AcceptanceConfig: Sendable, Equatable {
    public var minScore: Double?
    public var minMaskIoU: Double?
    public var minProposalScore: Double?
    public var background: [String]?
    public init() {}
}

public struct DaemonConfig: Sendable, Equatable {
    /// The file it was read from (absolute).
    public var file: String
    public var modelDirectory: String
    public var recognizer: RecognizerKind = .regionspot
    /// models.precision: how the encoders' Linear layers run (auto: int8 where the CPU has
    /// VNNI and `models check` recorded a pass on the model's weights in its model.json, else
    /// bf16 on a CPU with AVX512_BF16/AMX, else fp32; bf16 and int8 fall back to fp32 without
    /// their instructions; a log line says which and why).
    public var precision: Precision = .auto
    public var acceptance = AcceptanceConfig()
    public var vocabulary: [VocabularyEntry]
    /// Where the vocabulary came from: "inline" or the resolved `@file` path.
    public var vocabularySource: String = "inline"
    public var streams: [StreamConfig]
    public var publisher = PublisherConfig()
    /// Endpoint the daemon binds a PULL socket on for external boxes; nil = off.
    public var externalBoxesEndpoint: String? = nil
    public var limits = LimitsConfig()
    public var metrics = MetricsConfig()
    public var service = ServiceConfig()
    public var logLevel: LogLevel = .info
    /// `node` on every published message; nil = the host name.
    public var node: String? = nil
    /// security.curve; nil = no encryption (warned about for non-loopback binds).
    public var curve: CurveConfig? = nil

    /// The node name published.
    public var nodeName: String { node ?? Origin.hostName }
}

/// What a SIGHUP reload changes, for the pipeline composer: unaffected streams keep running.
public struct ReloadPlan: Sendable, Equatable {
    public var added: [StreamConfig] = []
    public var removed: [String] = []
    public var changed: [StreamConfig] = []
    public var vocabularyChanged = false
    /// Keys that cannot change without a restart (listed so the reload can warn).
    public var needsRestart: [String] = []

    public init(from old: DaemonConfig, to new: DaemonConfig) {
        let oldByID = Dictionary(old.streams.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let newIDs = Set(new.streams.map(\.id))
        for s in new.streams {
            if let o = oldByID[s.id] {
                if o != s { changed.append(s) }
            } else {
                added.append(s)
            }
        }
        removed = old.streams.map(\.id).filter { !newIDs.contains($0) }
        vocabularyChanged = old.vocabulary != new.vocabulary
        if old.modelDirectory != new.modelDirectory { needsRestart.append("models.directory") }
        if old.recognizer != new.recognizer { needsRestart.append("models.recognizer") }
        if old.precision != new.precision { needsRestart.append("models.precision") }
        if old.publisher != new.publisher { needsRestart.append("publisher") }
        if old.externalBoxesEndpoint != new.externalBoxesEndpoint { needsRestart.append("external_boxes") }
        if old.node != new.node { needsRestart.append("node") }
        if old.curve != new.curve { needsRestart.append("security") }
        if old.metrics != new.metrics { needsRestart.append("metrics") }
        if old.limits != new.limits { needsRestart.append("limits") }
    }

    public var isEmpty: Bool {
        added.isEmpty && removed.isEmpty && changed.isEmpty && !vocabularyChanged && needsRestart.isEmpty
    }
}
