// The live pages' HTML, CSS and JS: plain text in the binary, no build step, no CDN.
// Everything taken from the daemon (stream ids, labels, reasons) is escaped: on the server
// by `html(_:)`, in the browser by writing only `textContent`.
import Foundation

enum LivePages {
    struct Row {
        var stream: String
        var state: String
        var reason: String?
        var rates: StreamRates?
        var liveTracks: Int
        var lastRecognition: Double?
        var recognitionLatency: Double?
        var lag: Double
        var hasView: Bool
    }

    static let style = """
    body{font:14px system-ui,sans-serif;margin:16px;background:#15171a;color:#e6e6e6}
    a{color:#7cc4ff}h1{font-size:18px;margin:0 0 12px}
    table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #333;text-align:left}th,td.id,td.n{white-space:nowrap}
    th{color:#aaa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
    .wrap{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}.wrap>div{flex:1 1 360px;overflow-x:auto}
    .wrap>div.pic{flex:0 0 auto}
    #frame{display:block;height:auto;max-width:calc(100vw - 40px);width:max(320px,min(100vw - 440px,(100vh - 80px) * var(--aspect,1.778)))}
    .muted{color:#888}.sw{display:inline-block;width:10px;height:10px;margin-right:6px}
    """

    static func html(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A path segment: everything but unreserved characters percent-encoded.
    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? s
    }

    static func page(_ title: String, _ body: String, refresh: Int? = nil) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        \(refresh.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? "")
        <title>\(html(title))</title><style>\(style)</style></head><body>\(body)</body></html>
        """
    }

    static func index(_ rows: [Row], tokenQuery: String, fps: Double) -> String {
        let now = Date().timeIntervalSince1970
        func num(_ v: Double?, _ digits: Int = 1) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        var body = "<h1>regionspotd: \(rows.count) stream\(rows.count == 1 ? "" : "s")</h1>"
        body += "<table id=\"streams\"><tr><th>stream</th><th>state</th><th>decoded fps</th><th>published fps</th>"
            + "<th>recognitions/s</th><th>live tracks</th><th>last recognition</th><th>recognizer lag s</th><th>behind real time s</th></tr>"
        for r in rows {
            let name = r.hasView ? "<a href=\"/streams/\(segment(r.stream))\(html(tokenQuery))\">\(html(r.stream))</a>" : html(r.stream)
            let state = html(r.state) + (r.reason.map { " <span class=\"muted\">\(html($0))</span>" } ?? "")
            let last = r.lastRecognition.map { t -> String in
                let full = RFC3339.format(epochSeconds: t)
                return "<span title=\"\(full)\">\(full.dropFirst(11).prefix(8)) UTC</span> (\(num(now - t)) s ago)"
            } ?? "never"
            body += "<tr data-stream=\"\(html(r.stream))\"><td>\(name)</td><td>\(state)</td><td class=n>\(num(r.rates?.decodedFPS))</td>"
                + "<td class=n>\(num(r.rates?.publishedFPS))</td><td class=n>\(num(r.rates?.recognitionsPerSecond, 2))</td>"
                + "<td class=n>\(r.liveTracks)</td><td>\(last)</td><td class=n>\(num(r.recognitionLatency, 2))</td><td class=n>\(num(r.lag, 2))</td></tr>"
        }
        body += "</table><p class=\"muted\">Rates over the last metrics interval; refreshed every 2 s. "
            + "<a href=\"/metrics\">metrics</a></p>"
        return page("regionspotd", body, refresh: 2)
    }

    static func stream(id: String, url: String, tokenQuery: String, fps: Double, busyFPS: Double = 0) -> String {
        let base = "/streams/" + segment(id)
        let body = """
        <h1><a href="/\(html(tokenQuery))">regionspotd</a> / \(html(id)) <span class="muted">\(html(url))</span></h1>
        <div class="wrap"><div class="pic"><img id="frame" alt="latest frame of \(html(id))">
        <p class="muted" id="slowed" title="metrics.live_fps_busy: \(busyFPS)"></p></div>
        <div><table id="tracks"><thead><tr><th>id</th><th>label</th><th>score</th><th>top 3</th><th>source</th>
        <th>label age s</th><th>inferred frame</th></tr></thead><tbody></tbody></table>
        <p class="muted" id="info">waiting for the first frame</p></div></div>
        <script>
        \(script(base: base, tokenQuery: tokenQuery, fps: fps))
        </script>
        """
        return page("regionspotd \(id)", body)
    }

    /// Shows video.mjpeg (a new picture whenever the stream has one, at most `fps` a second);
    /// when that is refused (every watcher's place taken) polls frame.jpg instead (next
    /// request once the last picture loaded). Fills the tracks table from the event stream.
    static func script(base: String, tokenQuery: String, fps: Double) -> String {
        let q = jsString(tokenQuery), b = jsString(base)
        return """
        const base = \(b), q = \(q), period = \(Int((1000 / fps).rounded()));
        const palette = ["#ff4040","#40c8ff","#50e650","#ffc800","#ff50dc","#00e6c8","#ff8c1e","#a078ff","#beff3c","#ff9696","#2882ff","#e6e6e6"];
        const img = document.getElementById("frame");
        let polling = false;
        function video() { polling = false; img.src = base + "/video.mjpeg" + (q ? q + "&" : "?") + "t=" + Date.now(); }
        function load() { img.src = base + "/frame.jpg" + (q ? q + "&" : "?") + "t=" + Date.now(); }
        // Scaled to fit beside the table and within the window's height (live_width bounds the
        // picture the daemon draws, not the size it is shown at).
        img.onload = () => { img.style.setProperty("--aspect", img.naturalWidth / img.naturalHeight); if (polling) setTimeout(load, period); };
        img.onerror = () => { polling = true; setTimeout(load, 1000); };
        video();
        function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
        function show(m) {
          const body = document.querySelector("#tracks tbody"), rows = [];
          for (const r of m.regions) {
            const tr = document.createElement("tr");
            tr.dataset.track = r.track_id;
            const id = cell(tr, "", "id");
            const sw = document.createElement("span"); sw.className = "sw"; sw.style.background = palette[r.track_id % palette.length];
            id.appendChild(sw); id.appendChild(document.createTextNode("#" + r.track_id));
            cell(tr, r.label); cell(tr, r.score.toFixed(2), "n");
            cell(tr, (r.top || []).slice(0, 3).map(t => t.label + " " + t.score.toFixed(2)).join(", "));
            cell(tr, r.source); cell(tr, r.label_age.toFixed(1), "n"); cell(tr, String(r.inferred_frame), "n");
            rows.push(tr);
          }
          body.replaceChildren(...rows);
          document.getElementById("info").textContent = "frame " + m.frame + " at " + m.time + ", " + m.regions.length + " live tracks";
        }
        const events = new EventSource(base + "/events" + q);
        events.onmessage = e => show(JSON.parse(e.data));
        // Recognition has priority: while the recognizer is busy the daemon draws fewer pictures.
        events.addEventListener("pictures", e => {
          const p = JSON.parse(e.data);
          document.getElementById("slowed").textContent = p.slowed
            ? "pictures slowed to " + p.fps + " a second while the recognizer is busy" : "";
        });
        // The event stream reconnected (a reload restarted the stream, which ends its MJPEG):
        // the video again.
        let opened = false;
        events.onopen = () => { if (opened && !polling) video(); opened = true; };
        """
    }

    /// A JSON string literal (valid JS), safe inside <script>.
    static func jsString(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(s)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }
}
