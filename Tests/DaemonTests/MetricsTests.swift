import Foundation
import Testing
@testable import Daemon

@Suite("Metrics")
struct MetricsTests {
    @Test("Prometheus text exposition of counters, gauges and histograms")
    func render() {
        let r = MetricsRegistry()
        let m = StreamMetrics(registry: r, stream: "cam\"1")
        m.framesDecoded.inc(25)
        m.recognitionLatency.observe(0.04)
        m.recognitionLatency.observe(0.3)
        m.recognitionLatency.observe(100)
        m.liveTracks.set(3)
        m.lag.set(0.25)
        m.rejected(.background); m.rejected(.background)
        m.companyBoxes.inc(4)
        #expect(StreamMetrics(registry: r, stream: "cam\"1").framesDecoded === m.framesDecoded)
        let text = r.render()
        #expect(text.contains("# TYPE regionspotd_frames_decoded_total counter\nregionspotd_frames_decoded_total{stream=\"cam\\\"1\"} 25\n"))
        #expect(text.contains("regionspotd_live_tracks{stream=\"cam\\\"1\"} 3\n"))
        #expect(text.contains("# TYPE regionspotd_stream_lag_seconds gauge\nregionspotd_stream_lag_seconds{stream=\"cam\\\"1\"} 0.25\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_bucket{stream=\"cam\\\"1\",le=\"0.025\"} 0\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_bucket{stream=\"cam\\\"1\",le=\"0.05\"} 1\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_bucket{stream=\"cam\\\"1\",le=\"0.5\"} 2\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_bucket{stream=\"cam\\\"1\",le=\"30\"} 2\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_bucket{stream=\"cam\\\"1\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_sum{stream=\"cam\\\"1\"} 100.34\n"))
        #expect(text.contains("regionspotd_recognition_latency_seconds_count{stream=\"cam\\\"1\"} 3\n"))
        // Every sample line is NAME{labels} VALUE; every family has HELP and TYPE once.
        let lines = text.split(separator: "\n")
        // 21 families per stream; the rejected-regions, encoder-runs and frames-shed
        // families have one series per reason.
        #expect(lines.filter { $0.hasPrefix("# TYPE") }.count == 21)
        #expect(text.contains("# TYPE regionspotd_company_boxes_total counter\nregionspotd_company_boxes_total{stream=\"cam\\\"1\"} 4\n"))
        #expect(lines.filter { $0.hasPrefix("regionspotd_frames_shed_total{") }.count == StreamMetrics.shedReasons.count)
        #expect(text.contains("regionspotd_regions_dropped_total{stream=\"cam\\\"1\",reason=\"non_finite\"} 0\n"))
        #expect(lines.filter { $0.hasPrefix("regionspotd_encoder_runs_total{") }.count == RecognitionTrigger.allCases.count)
        #expect(lines.filter { $0.hasPrefix("regionspotd_regions_rejected_total{") }.count == RegionAcceptance.Reason.allCases.count)
        #expect(text.contains("regionspotd_regions_rejected_total{stream=\"cam\\\"1\",reason=\"low_score\"} 0\n"))
        #expect(text.contains("regionspotd_regions_rejected_total{stream=\"cam\\\"1\",reason=\"background\"} 2\n"))
        #expect(lines.filter { !$0.hasPrefix("#") }.allSatisfy { $0.split(separator: " ").count == 2 })
    }

    @Test("textfile is replaced atomically and leaves no temp files")
    func textfile() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.file("regionspotd.prom")
        try TextfileExporter.write("a 1\n", to: path)
        try TextfileExporter.write("a 2\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "a 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["regionspotd.prom"])
        #expect(throws: PublisherError.self) { try TextfileExporter.write("x", to: dir.file("missing/dir.prom")) }
    }

    @Test("HTTP endpoint serves /metrics and /healthz")
    func http() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let r = MetricsRegistry()
        r.counter("regionspotd_test_total", help: "t").inc(7)
        let healthy = LockedBox(true)
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { r.render() },
                                           healthy: { (healthy.value, healthy.value ? "ok" : "wedged: x") })
        defer { server.stop() }
        #expect(server.port > 0)
        let script = dir.write("get.py", """
            import sys, urllib.request, urllib.error
            for path in sys.argv[2:]:
                try:
                    r = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{path}", timeout=5)
                    print(r.status, r.headers["Content-Type"], repr(r.read().decode()))
                except urllib.error.HTTPError as e:
                    print(e.code, e.headers["Content-Type"], repr(e.read().decode()))
            """)
        let out = try Child.run(Repo.python, [script, "\(server.port)", "/metrics", "/healthz", "/nope"], dir: dir)
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [
            "200 text/plain; version=0.0.4; charset=utf-8 '# HELP regionspotd_test_total t\\n# TYPE regionspotd_test_total counter\\nregionspotd_test_total 7\\n'",
            "200 text/plain 'ok\\n'",
            "404 text/plain 'try /metrics or /healthz\\n'",
        ])
        healthy.value = false
        let sick = try Child.run(Repo.python, [script, "\(server.port)", "/healthz"], dir: dir)
        #expect(sick.stdout == "503 text/plain 'wedged: x\\n'\n")
    }
}

@Suite("systemd units")
struct SystemdUnitTests {
    static let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `systemd-analyze verify` checks that ExecStart= exists, so the units are verified
    /// unchanged inside a scratch root that holds the built binary at /usr/local/bin, the
    /// host's system units (for sysinit.target & co.) and kill(1) for ExecReload=.
    @Test("systemd-analyze verify passes on the units", .enabled(if: analyze != nil))
    func verify() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let fm = FileManager.default
        let root = dir.file("root")
        for d in ["usr/local/bin", "usr/bin", "usr/lib/systemd", "etc/systemd/system"] {
            try fm.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        try fm.createSymbolicLink(atPath: "\(root)/bin", withDestinationPath: "usr/bin")
        try fm.copyItem(atPath: binary, toPath: "\(root)/usr/local/bin/regionspotd")
        try fm.copyItem(atPath: "/usr/bin/kill", toPath: "\(root)/usr/bin/kill")
        try fm.copyItem(atPath: "/usr/lib/systemd/system", toPath: "\(root)/usr/lib/systemd/system")
        for unit in ["regionspotd.service", "regionspotd@.service", "regionspotd-proxy.service"] {
            try fm.copyItem(atPath: Repo.root.appendingPathComponent("systemd/\(unit)").path, toPath: "\(root)/etc/systemd/system/\(unit)")
        }
        for unit in ["regionspotd.service", "regionspotd@edge1.service", "regionspotd-proxy.service"] {
            let r = try Child.run(Self.analyze!, ["verify", "--root=\(root)", unit], dir: dir)
            #expect(r.status == 0, "\(unit): \(r.stderr)")
            #expect(r.stderr.isEmpty, "\(unit): \(r.stderr)")
        }
        // The check is real: a unit whose ExecStart is missing fails.
        try fm.removeItem(atPath: "\(root)/usr/local/bin/regionspotd")
        let broken = try Child.run(Self.analyze!, ["verify", "--root=\(root)", "regionspotd.service"], dir: dir)
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("/usr/local/bin/regionspotd"))
    }

    @Test("systemd-analyze security rates the units at most 2.5", .enabled(if: analyze != nil),
          arguments: ["regionspotd.service", "regionspotd@.service", "regionspotd-proxy.service"])
    func security(unit: String) throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = Repo.root.appendingPathComponent("systemd/\(unit)").path
        let r = try Child.run(Self.analyze!, ["security", "--offline=true", "--threshold=25", path], dir: dir)
        #expect(r.status == 0, "\(r.stdout.suffix(400))")
        let line = try #require(r.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
        #expect(score <= 2.5, "\(line)")
    }

    @Test("install-service installs binary, units, config and docs under DESTDIR")
    func install() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let dest = dir.file("dest")
        let r = try Child.run("/bin/bash", [Repo.root.appendingPathComponent("scripts/install-service").path, "--binary", binary,
                                            "--instance", "edge1"], env: ["DESTDIR": dest], dir: dir, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let fm = FileManager.default
        for f in ["usr/local/bin/regionspotd", "etc/systemd/system/regionspotd.service", "etc/systemd/system/regionspotd@.service",
                  "etc/regionspotd/edge1.yaml", "usr/local/share/doc/regionspotd/config.md",
                  "usr/local/share/regionspotd/schema/regions.schema.json"] {
            #expect(fm.fileExists(atPath: "\(dest)/\(f)"), "missing \(f)")
        }
        #expect(fm.isExecutableFile(atPath: "\(dest)/usr/local/bin/regionspotd"))
        // The example config names a model directory this machine does not have: reported, not enabled.
        #expect(r.stderr.contains("models.directory"))
        #expect(r.stdout.contains("systemctl not called"))
        // --proxy: the proxy's unit, its arguments file and a keypair (secret 0600).
        let p = try Child.run("/bin/bash", [Repo.root.appendingPathComponent("scripts/install-service").path, "--binary", binary, "--proxy"],
                              env: ["DESTDIR": dest], dir: dir, timeout: 60)
        #expect(p.status == 0, "\(p.stderr)")
        for f in ["etc/systemd/system/regionspotd-proxy.service", "etc/regionspotd/proxy.env", "etc/regionspotd/keys/proxy.pub",
                  "usr/local/share/doc/regionspotd/deploy.md"] {
            #expect(fm.fileExists(atPath: "\(dest)/\(f)"), "missing \(f)")
        }
        let mode = (try fm.attributesOfItem(atPath: "\(dest)/etc/regionspotd/keys/proxy.key")[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
    }
}
