// What the live pages show of one stream: the latest decoded frame with what was published
// for it, and the JPEG drawn from them on request.
//
// The decode thread only swaps references (`offer`: one lock, no copy, no drawing): the
// frame keeps its ref-counted picture alive until a newer one replaces it. Drawing runs on
// the HTTP connection thread that asks (`jpeg`), as replay --annotate draws (FrameAnnotator),
// at most `maxFPS` pictures per second per stream however many watch: a request within
// 1/maxFPS of the last drawing, or when no frame was offered since, gets that JPEG again
// (counted as reused). While the recognizer is busy (RecognizerActivity: it has worked 1 s
// or more without a break) the pictures are held to `busyFPS` a second (metrics.live_fps_busy):
// recognition has priority over pictures; a request within 1/busyFPS of the last drawing
// then gets that picture (counted as reused, reason recognizer_busy). A picture is at most
// `maxWidth` pixels wide: swscale scales the frame down while converting it to RGB (one
// pass), and the boxes are scaled to match.
import Decode
import Foundation
import Recognizer
import Synchronization

final class LiveView: Sendable {
    struct Latest: @unchecked Sendable {
        var frame: VideoFrame
        var message: RegionsMessage
        /// The recognizer's regions when this frame carried a recognition (replay's badge).
        var recognized: [RecognizedRegion]?
        /// Counts the offers: the same number means the same frame and tracks.
        var generation: Int
    }
    struct Picture: Sendable {
        var jpeg: [UInt8]
        var frame: Int
        var drawnAt: Double
        var generation: Int
    }

    let stream: String
    let url: String
    let maxFPS: Double
    /// metrics.live_fps_busy: pictures a second at most while the recognizer is busy (0: no throttle).
    let busyFPS: Double
    private let recognizer: RecognizerActivity?
    /// metrics.live_width: pictures are at most this wide.
    let maxWidth: Int
    private let latest = Mutex<Latest?>(nil)
    private let framesDrawn: CounterMetric
    /// Requests answered with the picture already drawn: nothing offered since, or within
    /// 1/maxFPS of the last drawing.
    private let reusedUnchanged: CounterMetric?
    private let reusedRate: CounterMetric?
    /// Requests answered with the picture already drawn because the recognizer is busy.
    private let reusedBusy: CounterMetric?
    private let drawSeconds: HistogramMetric?
    private let drawing = DrawingState()

    init(stream: String, url: String, maxFPS: Double, maxWidth: Int = MetricsConfig().liveWidth, framesDrawn: CounterMetric,
         reused: (unchanged: CounterMetric, liveFPS: CounterMetric)? = nil, drawSeconds: HistogramMetric? = nil,
         busyFPS: Double = 0, recognizer: RecognizerActivity? = nil, reusedBusy: CounterMetric? = nil) {
        self.stream = stream
        self.url = url
        self.maxFPS = maxFPS
        self.busyFPS = busyFPS
        self.recognizer = recognizer
        self.reusedBusy = reusedBusy
        self.maxWidth = maxWidth
        self.framesDrawn = framesDrawn
        reusedUnchanged = reused?.unchanged
        reusedRate = reused?.liveFPS
        self.drawSeconds = drawSeconds
    }

    /// Called on the decode thread after each frame: keeps a reference, draws nothing.
    func offer(_ frame: VideoFrame, _ message: RegionsMessage, _ recognized: [RecognizedRegion]?) {
        latest.withLock { l in
            l = Latest(frame: frame, message: message, recognized: recognized, generation: (l?.generation ?? 0) + 1)
        }
    }

    /// swscale's filter for the pictures: bilinear, which widens its taps when scaling down
    /// (no aliasing at 1080p -> 640), without the exact rounding and full-resolution chroma
    /// that FrameConverter's default spends on the recognizer's input (a quarter of the
    /// picture's cost; `regionspotd bench --filter live_picture`).
    static let scaleFlags: ScaleFlags = [.bilinear]

    /// A picture's size for a `width` x `height` frame: at most `maxWidth` wide, aspect kept
    /// (height rounded to even, as JPEG's 4:2:0 wants), never enlarged.
    static func pictureSize(width w: Int, height h: Int, maxWidth: Int) -> (width: Int, height: Int) {
        guard w > maxWidth, h > 0 else { return (w, h) }
        let dw = max(2, maxWidth & ~1)
        return (dw, max(2, Int((Double(h) * Double(dw) / Double(w) / 2).rounded()) * 2))
    }

    /// The pictures a second allowed now: `maxFPS`, or `busyFPS` while the recognizer is
    /// busy (when that is a throttle: above 0 and below `maxFPS`).
    static func allowedFPS(maxFPS: Double, busyFPS: Double, recognizerBusy: Bool) -> Double {
        recognizerBusy && busyFPS > 0 && busyFPS < maxFPS ? busyFPS : maxFPS
    }

    /// Whether the pictures are held back now because the recognizer is busy.
    func slowed(now: Double = Service.now()) -> Bool {
        guard busyFPS > 0, busyFPS < maxFPS, let recognizer else { return false }
        return recognizer.busy(now: now)
    }

    /// The latest published message (the tracks table).
    var message: RegionsMessage? { latest.withLock { $0?.message } }

    /// The number of the latest offer (nil before the first): a picture with this
    /// generation shows the latest frame.
    var generation: Int? { latest.withLock { $0?.generation } }

    /// The latest frame drawn and encoded, or nil before the first frame. Called on HTTP
    /// threads; one drawing at a time per stream, shared by every watcher.
    func jpeg(now: Double = Service.now()) throws -> Picture? {
        try drawing.lock.withLock {
            guard let l = latest.withLock({ $0 }) else { return nil }
            if let p = drawing.picture {
                if p.generation == l.generation { reusedUnchanged?.inc(); return p }
                if now - p.drawnAt < 1 / maxFPS { reusedRate?.inc(); return p }
                let fps = Self.allowedFPS(maxFPS: maxFPS, busyFPS: busyFPS, recognizerBusy: slowed(now: now))
                if now - p.drawnAt < 1 / fps { reusedBusy?.inc(); return p }
            }
            let started = Service.now()
            let size = Self.pictureSize(width: l.frame.width, height: l.frame.height, maxWidth: maxWidth)
            let rgb = try drawing.converter.rgb(l.frame, .size(width: size.width, height: size.height))
            let annotated = drawing.annotator.draw(rgb, message: l.message, recognized: l.recognized,
                                                   source: (l.frame.width, l.frame.height))
            let p = Picture(jpeg: try drawing.encoder.encode(annotated), frame: l.frame.index, drawnAt: now, generation: l.generation)
            drawing.picture = p
            framesDrawn.inc()
            drawSeconds?.observe(Service.now() - started)
            return p
        }
    }
}

/// The drawing side's tools, used only under `lock`.
private final class DrawingState: @unchecked Sendable {
    let lock = NSLock()
    let converter = FrameConverter(flags: LiveView.scaleFlags)
    let annotator = FrameAnnotator()
    let encoder = JPEGEncoder(quality: 5)
    var picture: LiveView.Picture?
}
