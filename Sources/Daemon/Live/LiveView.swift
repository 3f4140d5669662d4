// What the live pages show of one stream: the latest decoded frame with what was published
// for it, and the JPEG drawn from them on request.
//
// The decode thread only swaps references (`offer`: one lock, no copy, no drawing): the
// frame keeps its ref-counted picture alive until a newer one replaces it. Drawing runs on
// the HTTP connection thread that asks (`jpeg`), as replay --annotate draws (FrameAnnotator),
// at most `maxFPS` pictures per second per stream however many watch: a request within
// 1/maxFPS of the last drawing, or for the frame already drawn, gets that JPEG again.
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
    }
    struct Picture: Sendable {
        var jpeg: [UInt8]
        var frame: Int
        var drawnAt: Double
    }

    let stream: String
    let url: String
    let maxFPS: Double
    private let latest = Mutex<Latest?>(nil)
    private let framesDrawn: CounterMetric
    private let drawSeconds: HistogramMetric?
    private let drawing = DrawingState()

    init(stream: String, url: String, maxFPS: Double, framesDrawn: CounterMetric, drawSeconds: HistogramMetric? = nil) {
        self.stream = stream
        self.url = url
        self.maxFPS = maxFPS
        self.framesDrawn = framesDrawn
        self.drawSeconds = drawSeconds
    }

    /// Called on the decode thread after each frame: keeps a reference, draws nothing.
    func offer(_ frame: VideoFrame, _ message: RegionsMessage, _ recognized: [RecognizedRegion]?) {
        let l = Latest(frame: frame, message: message, recognized: recognized)
        latest.withLock { $0 = l }
    }

    /// The latest published message (the tracks table).
    var message: RegionsMessage? { latest.withLock { $0?.message } }

    /// The latest frame drawn and encoded, or nil before the first frame. Called on HTTP
    /// threads; one drawing at a time per stream, shared by every watcher.
    func jpeg(now: Double = Service.now()) throws -> Picture? {
        try drawing.lock.withLock {
            guard let l = latest.withLock({ $0 }) else { return nil }
            if let p = drawing.picture, p.frame == l.frame.index || now - p.drawnAt < 1 / maxFPS { return p }
            let started = Service.now()
            let rgb = try drawing.converter.rgb(l.frame)
            let annotated = drawing.annotator.draw(rgb, message: l.message, recognized: l.recognized)
            let p = Picture(jpeg: try drawing.encoder.encode(annotated), frame: l.frame.index, drawnAt: now)
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
    let converter = FrameConverter()
    let annotator = FrameAnnotator()
    let encoder = JPEGEncoder(quality: 5)
    var picture: LiveView.Picture?
}
