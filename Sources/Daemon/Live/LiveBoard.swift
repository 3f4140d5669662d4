// The live pages on the metrics listener (read-only; GET only):
//
//   /                          every stream: state, rates, live tracks, last recognition, lag
//   /streams/<id>              the latest frame annotated as replay --annotate draws it,
//                              beside the live tracks (HTML + a little JS, no assets)
//   /streams/<id>/frame.jpg    that frame as JPEG (drawn on request, <= metrics.live_fps/s,
//                              <= metrics.live_width pixels wide)
//   /streams/<id>/events       server-sent events: the stream's regions message, <= live_fps/s;
//                              `event: pictures` {"slowed": bool, "fps": n} when the pictures
//                              are held to live_fps_busy (the recognizer is busy) or no longer
//   /streams/<id>/video.mjpeg  the pictures as multipart/x-mixed-replace (MJPEG: browsers,
//                              ffmpeg's mpjpeg demuxer, other MJPEG clients), each new one, <= live_fps/s
//
// An events or MJPEG connection is a watcher: at most metrics.max_watchers at once (more get
// 503), counted in regionspotd_live_watchers. Without metrics.token the pages answer loopback
// peers only. Each connection runs on its own thread with send timeouts: a client that stops
// reading is dropped after 2 s and holds nothing the pipelines use.
import Decode
import Foundation
import Synchronization

public final class LiveBoard: Sendable {
    let maxFPS: Double
    /// metrics.live_fps_busy (0: no throttle).
    let busyFPS: Double
    let recognizer: RecognizerActivity?
    let maxWidth: Int
    let maxWatchers: Int
    let tokenSet: Bool
    private let statuses: @Sendable () -> [StreamStatus]
    private let views = Mutex<[String: LiveView]>([:])
    private let watching = Mutex(0)
    private let registry: MetricsRegistry
    let watchers: GaugeMetric
    let refusedWatchers: CounterMetric
    let refusedConnections: CounterMetric

    init(config: MetricsConfig, registry: MetricsRegistry, recognizer: RecognizerActivity? = nil,
         statuses: @escaping @Sendable () -> [StreamStatus]) {
        maxFPS = config.liveFPS
        busyFPS = config.liveFPSBusy
        self.recognizer = recognizer
        maxWidth = config.liveWidth
        maxWatchers = config.maxWatchers
        tokenSet = config.token != nil
        self.statuses = statuses
        self.registry = registry
        watchers = registry.gauge("regionspotd_live_watchers", help: "Live page event and MJPEG streams open now (metrics.max_watchers at most).")
        refusedWatchers = registry.counter("regionspotd_live_refused_total", help: "Live page requests refused, by reason.",
                                           labels: [("reason", "max_watchers")])
        refusedConnections = registry.counter("regionspotd_live_refused_total", help: "Live page requests refused, by reason.",
                                              labels: [("reason", "max_connections")])
    }

    /// The stream's view (created on first use); its pipeline offers every frame to it.
    func view(stream: String, url: String) -> LiveView {
        views.withLock { v in
            if let x = v[stream] { return x }
            let l: MetricLabels = [("stream", stream)]
            let reusedHelp = "Live picture requests answered with the picture already drawn, by reason."
            let x = LiveView(stream: stream, url: Redaction.redact(url), maxFPS: maxFPS, maxWidth: maxWidth,
                             framesDrawn: registry.counter("regionspotd_live_frames_drawn_total",
                                                           help: "Frames drawn and encoded for the live pages.", labels: l),
                             reused: (registry.counter("regionspotd_live_frames_reused_total", help: reusedHelp, labels: l + [("reason", "unchanged")]),
                                      registry.counter("regionspotd_live_frames_reused_total", help: reusedHelp, labels: l + [("reason", "live_fps")])),
                             drawSeconds: registry.histogram("regionspotd_live_draw_seconds",
                                                             help: "Seconds to convert, annotate and JPEG-encode one live picture (on an HTTP thread).",
                                                             labels: l, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
                             busyFPS: busyFPS, recognizer: recognizer,
                             reusedBusy: registry.counter("regionspotd_live_frames_reused_total", help: reusedHelp,
                                                          labels: l + [("reason", "recognizer_busy")]))
            v[stream] = x
            return x
        }
    }

    func removeView(stream: String) { _ = views.withLock { $0.removeValue(forKey: stream) } }

    private func view(_ stream: String) -> LiveView? { views.withLock { $0[stream] } }

    /// Serves `req` if it is a live page; false when the path is not one.
    func serve(_ req: HTTPRequest, on c: HTTPConnection, stopped: @escaping () -> Bool) -> Bool {
        let parts = req.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
        let isPage = req.path == "/" || parts.first == "streams"
        guard isPage else { return false }
        guard req.fromLoopback || tokenSet else {
            c.respond("403 Forbidden", text: "the live pages answer other hosts only with metrics.token set\n")
            return true
        }
        let tokenQuery = req.query["token"].map { "?token=" + $0 } ?? ""
        if req.path == "/" {
            c.respond("200 OK", type: "text/html; charset=utf-8", text: LivePages.index(rows(), tokenQuery: tokenQuery, fps: maxFPS),
                      headers: ["Cache-Control: no-store"])
            return true
        }
        guard parts.count >= 2, let v = view(parts[1]) else {
            c.respond("404 Not Found", text: "no such stream\n")
            return true
        }
        switch parts.count == 2 ? "" : parts[2...].joined(separator: "/") {
        case "":
            c.respond("200 OK", type: "text/html; charset=utf-8",
                      text: LivePages.stream(id: v.stream, url: v.url, tokenQuery: tokenQuery, fps: maxFPS, busyFPS: busyFPS),
                      headers: ["Cache-Control: no-store"])
        case "frame.jpg":
            do {
                guard let p = try v.jpeg() else {
                    c.respond("503 Service Unavailable", text: "no frame yet\n", headers: ["Retry-After: 1"])
                    return true
                }
                c.respond("200 OK", type: "image/jpeg", body: p.jpeg, headers: ["Cache-Control: no-store", "X-Frame: \(p.frame)"])
            } catch {
                c.respond("500 Internal Server Error", text: "cannot draw the frame: \(error)\n")
            }
        case "events":
            events(v, on: c, stopped: stopped)
        case "video.mjpeg":
            mjpeg(v, on: c, stopped: stopped)
        default:
            c.respond("404 Not Found", text: "try /streams/<id>, /streams/<id>/frame.jpg, /streams/<id>/events or /streams/<id>/video.mjpeg\n")
        }
        return true
    }

    /// Takes a watcher's place, or answers 503 (counted) and returns false.
    private func admit(_ c: HTTPConnection) -> Bool {
        let admitted = watching.withLock { n -> Bool in
            guard n < maxWatchers else { return false }
            n += 1
            watchers.set(Double(n))
            return true
        }
        if !admitted {
            refusedWatchers.inc()
            c.respond("503 Service Unavailable", text: "too many watchers (metrics.max_watchers \(maxWatchers))\n", headers: ["Retry-After: 5"])
        }
        return admitted
    }

    private func leave() { watching.withLock { n in n -= 1; watchers.set(Double(n)) } }

    /// Server-sent events: the latest regions message whenever its frame changed, at most
    /// `maxFPS` a second; a comment every 5 s otherwise (finds closed connections); a
    /// `pictures` event when the pictures start or stop being held back because the
    /// recognizer is busy (shown as slowed until 2 s after it last was, so a recognizer
    /// busy now and then does not make the page's note flicker).
    private func events(_ v: LiveView, on c: HTTPConnection, stopped: () -> Bool) {
        guard admit(c) else { return }
        defer { leave() }
        let head = "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nretry: 1000\n\n"
        guard c.write(Array(head.utf8)) else { return }
        var lastFrame = -1
        var lastSent = Service.now()
        var lastSlowed = -Double.infinity
        var shownSlowed = false
        let period = 1 / maxFPS
        // Ends when the client leaves, the server stops, or the stream is removed or
        // restarted by a reload (the page's EventSource then reconnects to the new one).
        while !stopped(), !c.peerClosed, view(v.stream) === v {
            let now = Service.now()
            if v.slowed(now: now) { lastSlowed = now }
            if (now - lastSlowed < 2) != shownSlowed {
                shownSlowed.toggle()
                let fps = shownSlowed ? v.busyFPS : maxFPS
                guard c.write(Array("event: pictures\ndata: {\"slowed\":\(shownSlowed),\"fps\":\(fps)}\n\n".utf8)) else { return }
            }
            if let m = v.message, m.frame != lastFrame, let json = try? MessageCoding.encode(m) {
                lastFrame = m.frame
                lastSent = Service.now()
                guard c.write(Array("data: ".utf8) + json + Array("\n\n".utf8)) else { return }
            } else if Service.now() - lastSent >= 5 {
                lastSent = Service.now()
                guard c.write(Array(": idle\n\n".utf8)) else { return }
            }
            usleep(useconds_t(period * 1_000_000))
        }
    }

    /// MJPEG: a part per picture, drawn (shared with frame.jpg and other watchers, at most
    /// `maxFPS` a second per stream) only when a newer frame arrived; nothing is sent while
    /// the frame stays the same. Ends like an event stream.
    private func mjpeg(_ v: LiveView, on c: HTTPConnection, stopped: () -> Bool) {
        guard admit(c) else { return }
        defer { leave() }
        let boundary = "regionspotd-picture"
        let head = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=\(boundary)\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        guard c.write(Array(head.utf8)) else { return }
        var sent = -1
        let period = 1 / maxFPS
        while !stopped(), !c.peerClosed, view(v.stream) === v {
            let started = Service.now()
            if let g = v.generation, g != sent {
                do {
                    // Within 1/maxFPS of another watcher's drawing this is that picture: sent
                    // unless this connection sent it already.
                    if let p = try v.jpeg(now: started), p.generation != sent {
                        sent = p.generation
                        let part = "--\(boundary)\r\nContent-Type: image/jpeg\r\nContent-Length: \(p.jpeg.count)\r\nX-Frame: \(p.frame)\r\n\r\n"
                        guard c.write(Array(part.utf8) + p.jpeg + Array("\r\n".utf8)) else { return }
                    }
                } catch {
                    // The last part says why, and the stream ends (as frame.jpg answers 500).
                    let text = Array("cannot draw the frame: \(error)\n".utf8)
                    _ = c.write(Array("--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(text.count)\r\n\r\n".utf8)
                                + text + Array("\r\n--\(boundary)--\r\n".utf8))
                    return
                }
            }
            let rest = period - (Service.now() - started)
            if rest > 0 { usleep(useconds_t(rest * 1_000_000)) }
        }
    }

    private func rows() -> [LivePages.Row] {
        statuses().map { s in
            let (state, reason) = s.current
            return LivePages.Row(stream: s.stream, state: state.rawValue, reason: reason.map(Redaction.redact),
                                 rates: s.lastRates, liveTracks: Int(s.metrics.liveTracks.value),
                                 lastRecognition: s.lastRecognitionTime, recognitionLatency: s.lastLatency,
                                 lag: s.metrics.lag.value, hasView: view(s.stream) != nil)
        }
    }
}
