import Foundation
import Recognizer
import Testing
@testable import Daemon

@Suite("Configuration")
struct ConfigTests {
    static let example = Repo.root.appendingPathComponent("systemd/regionspotd.yaml").path

    @Test("the shipped example config is valid and reads as documented")
    func example() throws {
        let c = try ConfigLoader.load(file: Self.example, checkFiles: false)
        #expect(c.modelDirectory == "/var/lib/regionspotd/models")
        #expect(c.recognizer == .regionspot)
        #expect(c.vocabulary.map(\.label) == ["person", "car", "bicycle", "dog", "backpack"])
        #expect(c.vocabulary[1].names == ["car", "automobile"])
        #expect(c.streams.map(\.id) == ["gate", "lobby-replay"])
        let gate = c.streams[0]
        #expect(gate.transport == .tcp)
        #expect(gate.proposals.sources == [.tracked, .zones, .motion, .everything, .external])
        #expect(gate.proposals.zones.map(\.name) == ["doorway", "parking-bay-3"])
        #expect(gate.proposals.zones[0].box == [120, 80, 420, 560])
        #expect(c.streams[1].loop == true)
        #expect(c.streams[1].keyframes.maxInterval == 20)
        #expect(c.streams[1].publishRate == 5)
        #expect(c.publisher.endpoints == ["tcp://127.0.0.1:5556"])
        #expect(c.externalBoxesEndpoint == "tcp://127.0.0.1:5557")
        #expect(c.metrics.listen == "127.0.0.1:9464")
        #expect(c.service.drainTimeout == 5)
    }

    @Test("a minimal config gets the documented defaults")
    func defaults() throws {
        let c = try ConfigLoader.parse(yaml: """
            models: {directory: /m}
            vocabulary: [person]
            streams: [{id: a, url: "rtsp://h/x"}]
            """, file: "/etc/x.yaml", checkFiles: false)
        #expect(c.publisher.endpoints == ["tcp://127.0.0.1:5556"])
        #expect(c.publisher.overflow == .dropOldest)
        #expect(c.streams[0].proposals.sources == [.tracked, .motion, .everything])
        #expect(c.streams[0].keyframes == KeyframePolicy())
        #expect(c.limits.recognizerWorkers == 1 && c.limits.recognizerThreads == 0)
        #expect(c.limits.recognizerNice == 10)
        // decoder threads: cores shared out among streams, at least one; an explicit value wins
        #expect(c.limits.decoderThreads(streams: 1, cores: 2) == 2)
        #expect(c.limits.decoderThreads(streams: 4, cores: 2) == 1)
        #expect(c.limits.decoderThreads(streams: 3, cores: 8) == 2)
        #expect(c.logLevel == .info)
        let set = try ConfigLoader.parse(yaml: """
            models: {directory: /m}
            vocabulary: [person]
            streams: [{id: a, url: "rtsp://h/x"}]
            limits: {decoder_threads: 3, recognizer_nice: 0}
            """, file: "/etc/x.yaml", checkFiles: false)
        #expect(set.limits.decoderThreads(streams: 4, cores: 2) == 3 && set.limits.recognizerNice == 0)
        #expect(throws: (any Error).self) {
            try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits: {recognizer_nice: 20}\n",
                                   file: "/etc/x.yaml", checkFiles: false)
        }
    }

    @Test("every problem is reported with its line and key path")
    func everyProblem() throws {
        let yaml = """
            models:
              directory: /m
              recogniser: regionspot
            vocabulary: [person, "car|", person]
            streams:
              - id: "bad id"
                url: http://cam/x
                keyframes: {min_interval: 5, max_interval: 2}
                proposals: {sources: [motion, zones, flying]}
              - id: ok
                url: rtsp://user:hunter2@cam/x
                loop: yes
                transport: sctp
            publisher:
              endpoints: [tcp://127.0.0.1, "tcp://*:5556"]
              send_hwm: -3
            limits: {max_boxes_per_keyframe: lots}
            metrics: {listen: "9464", textfile: /tmp/x.txt}
            servce: {}
            """
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: yaml, file: "/etc/bad.yaml", checkFiles: false)
        }
        let found = Set(error.problems.map { "\($0.line ?? 0) \($0.path)" })
        let expected: Set<String> = [
            "3 models.recogniser", "4 vocabulary[1]", "4 vocabulary[2]", "6 streams[0].id", "7 streams[0].url",
            "8 streams[0].keyframes.min_interval", "9 streams[0].proposals.sources[2]", "9 streams[0].proposals.sources",
            "12 streams[1].loop", "13 streams[1].transport", "15 publisher.endpoints[0]", "16 publisher.send_hwm",
            "17 limits.max_boxes_per_keyframe", "18 metrics.listen", "18 metrics.textfile", "19 servce",
        ]
        #expect(found == expected)
        #expect(error.problems.map(\.line) == error.problems.map(\.line).sorted { ($0 ?? 0) < ($1 ?? 0) })
        let text = error.description
        #expect(text.contains("/etc/bad.yaml:3: models.recogniser: unknown key (did you mean 'recognizer'?)"))
        #expect(!text.contains("hunter2"))
    }

    @Test("metrics.live_fps_busy: default 1 (at most live_fps), 0 = no throttle, bounded by live_fps")
    func liveFPSBusy() throws {
        let base = "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n"
        #expect(try ConfigLoader.parse(yaml: base, file: "/etc/x.yaml", checkFiles: false).metrics.liveFPSBusy == 1)
        #expect(try ConfigLoader.parse(yaml: base + "metrics: {live_fps: 0.5}\n", file: "/etc/x.yaml", checkFiles: false).metrics.liveFPSBusy == 0.5)
        #expect(try ConfigLoader.parse(yaml: base + "metrics: {live_fps_busy: 0}\n", file: "/etc/x.yaml", checkFiles: false).metrics.liveFPSBusy == 0)
        #expect(try ConfigLoader.parse(yaml: base + "metrics: {live_fps: 10, live_fps_busy: 2.5}\n", file: "/etc/x.yaml", checkFiles: false).metrics.liveFPSBusy == 2.5)
        for (value, problem) in [("0.1", "must be 0 (no throttle) or at least 0.2, found 0.1"),
                                 ("6", "must be at most live_fps (5): it holds pictures back while the recognizer is busy, found 6"),
                                 ("-1", "must be at least 0, found -1")] {
            do {
                _ = try ConfigLoader.parse(yaml: base + "metrics:\n  live_fps_busy: \(value)\n", file: "/etc/x.yaml", checkFiles: false)
                Issue.record("live_fps_busy \(value) loaded")
            } catch {
                #expect(error.problems.map(\.description) == ["/etc/x.yaml:5: metrics.live_fps_busy: " + problem])
            }
        }
    }

    @Test("metrics.live_fps, live_width, max_watchers and token are read, bounded, and the token never shown")
    func livePageKeys() throws {
        let base = "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n"
        let d = try ConfigLoader.parse(yaml: base, file: "/etc/x.yaml", checkFiles: false)
        #expect(d.metrics.liveFPS == 5 && d.metrics.liveWidth == 640 && d.metrics.maxWatchers == 8 && d.metrics.token == nil)
        let c = try ConfigLoader.parse(yaml: base + "metrics: {listen: 127.0.0.1:9464, live_fps: 2.5, live_width: 1280, max_watchers: 0, token: abcdefgh-12345678}\n",
                                       file: "/etc/x.yaml", checkFiles: false)
        #expect(c.metrics.liveFPS == 2.5 && c.metrics.liveWidth == 1280 && c.metrics.maxWatchers == 0 && c.metrics.token == "abcdefgh-12345678")
        do {
            _ = try ConfigLoader.parse(yaml: base + "metrics:\n  live_fps: 0\n  live_width: 100\n  max_watchers: 65\n  token: hunter2\n",
                                       file: "/etc/x.yaml", checkFiles: false)
            Issue.record("bad live page keys loaded")
        } catch {
            #expect(error.problems.map(\.description) == [
                "/etc/x.yaml:5: metrics.live_fps: must be at least 0.2, found 0",
                "/etc/x.yaml:6: metrics.live_width: must be between 160 and 7680, found 100",
                "/etc/x.yaml:7: metrics.max_watchers: must be between 0 and 64, found 65",
                "/etc/x.yaml:8: metrics.token: must be at least 16 printable ASCII characters without spaces (value not shown)",
            ])
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("limits.frame_queue is refused as removed; several recognizer workers refuse blas_threads above 1")
    func removedKey() throws {
        do {
            _ = try ConfigLoader.parse(yaml: """
                models: {directory: /m}
                vocabulary: [person]
                streams: [{id: a, url: "rtsp://h/x"}]
                limits:
                  frame_queue: 8
                  publish_queue: 0
                """, file: "/etc/x.yaml", checkFiles: false)
            Issue.record("a config with limits.frame_queue loaded")
        } catch {
            #expect(error.problems.map(\.description) == [
                "/etc/x.yaml:5: limits.frame_queue: was removed: tracking runs inline on each stream's decode thread, so decoded frames never wait in a queue; delete the key",
                "/etc/x.yaml:6: limits.publish_queue: must be between 1 and 1000000, found 0",
            ])
        }
        // several recognizer workers run single-threaded: blas_threads above 1 is refused with them
        let two = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits: {recognizer_workers: 2}\n",
                                         file: "/etc/x.yaml", checkFiles: false)
        #expect(two.limits.recognizerWorkers == 2 && two.limits.recognizerThreads == 1)
        let one = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits: {blas_threads: 4}\n",
                                         file: "/etc/x.yaml", checkFiles: false)
        #expect(one.limits.recognizerWorkers == 1 && one.limits.recognizerThreads == 4)
        do {
            _ = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits:\n  recognizer_workers: 4\n  blas_threads: 2\n",
                                       file: "/etc/x.yaml", checkFiles: false)
            Issue.record("recognizer_workers 4 with blas_threads 2 loaded")
        } catch {
            #expect(error.description == "/etc/x.yaml:6: limits.blas_threads: must be 1 (or 0) with recognizer_workers 4: each worker runs single-threaded (OpenBLAS's thread count is process-wide); found 2")
        }
        // a typo near it is an unknown key whose hint never offers the removed one
        do {
            _ = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits: {frame_queu: 8}\n",
                                       file: "/etc/x.yaml", checkFiles: false)
            Issue.record("a config with limits.frame_queu loaded")
        } catch {
            #expect(error.problems.count == 1 && error.problems[0].description.hasPrefix("/etc/x.yaml:4: limits.frame_queu: unknown key; allowed here: publish_queue,"))
            #expect(!error.description.contains("frame_queue"))
        }
    }

    @Test("models.acceptance overrides and keyframes.on_demand: read, defaults, and bad values named")
    func acceptanceAndOnDemand() throws {
        let c = try ConfigLoader.parse(yaml: """
            models: {directory: /m, acceptance: {min_score: 0.2, min_mask_iou: 0.7, min_proposal_score: 0.4, background: [grass, wall]}}
            vocabulary: [person]
            streams: [{id: a, url: "rtsp://h/x", keyframes: {on_demand: false}}, {id: b, url: "rtsp://h/y"}]
            """, file: "/etc/x.yaml", checkFiles: false)
        #expect(c.acceptance.minScore == 0.2 && c.acceptance.minMaskIoU == 0.7 && c.acceptance.minProposalScore == 0.4)
        #expect(c.acceptance.background == ["grass", "wall"])
        #expect(c.acceptance.settings == AcceptanceSettings(minScore: 0.2, minMaskIoU: 0.7, background: ["grass", "wall"]))
        #expect(c.streams[0].keyframes.onDemand == false && c.streams[1].keyframes.onDemand == true)
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: """
                models: {directory: /m, acceptance: {min_score: 1.5, colour: red}}
                vocabulary: [person]
                streams: [{id: a, url: "rtsp://h/x", keyframes: {on_demand: sometimes}}]
                """, file: "/x.yaml", checkFiles: false)
        }
        #expect(Set(error.problems.map(\.path)) == ["models.acceptance.min_score", "models.acceptance.colour", "streams[0].keyframes.on_demand"])
        #expect(error.problems.allSatisfy { $0.line == 1 || $0.line == 3 })
    }

    @Test("overload keys: priority, limits.max_label_age, service.healthz_overloaded read with defaults; bad values named")
    func overloadKeys() throws {
        let c = try ConfigLoader.parse(yaml: """
            models: {directory: /m}
            vocabulary: [person]
            streams: [{id: a, url: "rtsp://h/x", priority: 10}, {id: b, url: "rtsp://h/y"}]
            limits: {max_label_age: 45}
            service: {healthz_overloaded: 503}
            """, file: "/etc/x.yaml", checkFiles: false)
        #expect(c.streams.map(\.priority) == [10, 0])
        #expect(c.limits.maxLabelAge == 45 && c.service.healthzOverloaded == 503)
        let d = try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n",
                                       file: "/etc/x.yaml", checkFiles: false)
        #expect(d.limits.maxLabelAge == 120 && d.service.healthzOverloaded == 200)
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: """
                models: {directory: /m}
                vocabulary: [person]
                streams: [{id: a, url: "rtsp://h/x", priority: 500}, {id: b, url: "rtsp://h/y", keyframes: {max_interval: 30}}]
                limits: {max_label_age: 20}
                service: {healthz_overloaded: 404}
                """, file: "/x.yaml", checkFiles: false)
        }
        #expect(Set(error.problems.map(\.path)) == ["streams[0].priority", "streams[1].keyframes.max_interval", "service.healthz_overloaded"])
        #expect(error.problems.first { $0.path == "streams[1].keyframes.max_interval" }?.message.contains("max_interval (30 s) is longer than limits.max_label_age (20 s)") == true)
        let zero = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\nlimits: {max_label_age: 0}\n",
                                   file: "/x.yaml", checkFiles: false)
        }
        #expect(zero.problems.map(\.path) == ["limits.max_label_age"])
    }

    @Test("missing required sections are named")
    func missing() throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "log_level: loud\n", file: "/x.yaml", checkFiles: false)
        }
        #expect(Set(error.problems.map(\.path)) == ["models", "vocabulary", "streams", "log_level"])
    }

    @Test("YAML syntax errors name the line")
    func syntax() throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "models:\n  directory: [unclosed\nstreams: x\n", file: "/x.yaml", checkFiles: false)
        }
        #expect(error.problems.count == 1)
        #expect(error.problems[0].line != nil)
        #expect(error.problems[0].message.hasPrefix("not valid YAML"))
    }

    @Test("@file vocabulary: relative to the config, comments, synonyms, file checks")
    func vocabularyFile() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("models"), withIntermediateDirectories: true)
        dir.write("vocab.txt", "# classes\nperson\n\ncar | automobile\n")
        let file = dir.write("c.yaml", """
            models: {directory: models}
            vocabulary: "@vocab.txt"
            streams: [{id: a, url: clip.mp4, loop: true}]
            """)
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(file: file) }
        #expect(error.problems.map(\.path) == ["streams[0].url"])  // clip.mp4 does not exist
        dir.write("clip.mp4", "")
        let c = try ConfigLoader.load(file: file)
        #expect(c.vocabulary == [VocabularyEntry(label: "person", names: ["person"]),
                                 VocabularyEntry(label: "car", names: ["car", "automobile"])])
        #expect(c.vocabularySource == dir.file("vocab.txt"))
        #expect(c.modelDirectory == dir.file("models"))
        #expect(c.streams[0].url == dir.file("clip.mp4"))
    }

    @Test("reload plan: added, removed, changed streams and vocabulary")
    func reloadPlan() throws {
        let base = """
            models: {directory: /m}
            vocabulary: [person]
            streams:
              - {id: a, url: "rtsp://h/a"}
              - {id: b, url: "rtsp://h/b"}
            """
        let old = try ConfigLoader.parse(yaml: base, file: "/x.yaml", checkFiles: false)
        let new = try ConfigLoader.parse(yaml: """
            models: {directory: /m}
            vocabulary: [person, dog]
            streams:
              - {id: a, url: "rtsp://h/a"}
              - {id: b, url: "rtsp://h/b2"}
              - {id: c, url: "rtsp://h/c"}
            publisher: {endpoints: ["tcp://127.0.0.1:6000"]}
            """, file: "/x.yaml", checkFiles: false)
        let plan = ReloadPlan(from: old, to: new)
        #expect(plan.added.map(\.id) == ["c"])
        #expect(plan.changed.map(\.id) == ["b"])
        #expect(plan.removed.isEmpty)
        #expect(plan.vocabularyChanged)
        #expect(plan.needsRestart == ["publisher"])
        #expect(ReloadPlan(from: old, to: old).isEmpty)
        #expect(ReloadPlan(from: new, to: old).removed == ["c"])
    }

    @Test("check-config: exit 78 naming the key; exit 0 with a summary when valid")
    func checkConfigBinary() throws {
        let binary = try #require(Repo.binary, "regionspotd not built")
        let dir = TempDir()
        defer { dir.remove() }
        let bad = dir.write("bad.yaml", """
            models: {directory: \(dir.path)}
            vocabulary: [person]
            streams:
              - id: cam
                url: rtsp://admin:s3cret@10.0.0.2/live
                keyframes: {min_interval: fast}
            """)
        let r = try Child.run(binary, ["check-config", bad], dir: dir)
        #expect(r.status == 78)
        #expect(r.stderr.contains("bad.yaml:6: streams[0].keyframes.min_interval: expected a number, found 'fast'"))
        #expect(!r.stderr.contains("s3cret"))
        let good = dir.write("good.yaml", """
            models: {directory: \(dir.path)}
            vocabulary: [person, "car|automobile"]
            streams:
              - {id: cam, url: "rtsp://admin:s3cret@10.0.0.2/live"}
            """)
        let ok = try Child.run(binary, ["check-config", good], dir: dir)
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("OK"))
        #expect(ok.stdout.contains("vocabulary: 2 classes"))
        #expect(ok.stdout.contains("rtsp://***@10.0.0.2/live"))
        #expect(!ok.stdout.contains("s3cret"))
        let missing = try Child.run(binary, ["check-config", dir.file("nope.yaml")], dir: dir)
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("nope.yaml: cannot read"))
    }
}
