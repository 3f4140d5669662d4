import Foundation
import Logging
import Testing
@testable import Daemon

/// Messages of each kind, as a pipeline would build them.
enum Samples {
    static let t = 1_795_000_000.25

    static func regions(stream: String = "cam1", frame: Int = 120) -> RegionsMessage {
        RegionsMessage(stream: stream, frame: frame, pts: Double(frame) / 25, time: t, keyframe: frame % 50 == 0,
                       inferred: true, latency: 0.042, regions: [
            RegionRecord(trackID: 7, box: [10, 20, 110.5, 220], label: "person", score: 0.91,
                         top: [LabelScore(label: "person", score: 0.91), LabelScore(label: "dog", score: 0.05)],
                         source: .tracked, inferredFrame: frame, labelAge: 0, recognizer: "regionspot"),
            RegionRecord(trackID: 9, box: [300, 40, 420, 200], label: "car", score: .nan, top: [],
                         source: .motion, inferredFrame: frame - 25, labelAge: 1.0, recognizer: "regionspot"),
        ])
    }

    static func track(_ event: TrackEvent = .labelChanged, stream: String = "cam1") -> TrackMessage {
        TrackMessage(stream: stream, event: event, trackID: 7, label: "person",
                     previousLabel: event == .labelChanged ? "dog" : nil, score: 0.8,
                     box: [1, 2, 3, 4], frame: 130, pts: 5.2, time: t)
    }

    static func status(stream: String = "cam1") -> [StatusMessage] {
        [StatusMessage.state(.reconnecting, stream: stream, reason: "EOF from rtsp://admin:pw@cam/live", time: t),
         StatusMessage.rates(StreamRates(interval: 10, decodedFPS: 25, publishedFPS: 24.9, recognitionsPerSecond: 0.5,
                                         recognitionsSkipped: 1, framesDropped: 0, liveTracks: 3, recognitionLatency: 0.3),
                             stream: stream, state: .streaming, time: t)]
    }
}

@Suite("Messages and schemas")
struct MessagesTests {
    func json<M: Encodable>(_ m: M) throws -> String { String(decoding: try MessageCoding.encode(m), as: UTF8.self) }

    @Test("RFC 3339 UTC time with microseconds")
    func time() {
        #expect(RFC3339.format(epochSeconds: 0) == "1970-01-01T00:00:00.000000Z")
        #expect(RFC3339.format(epochSeconds: 1_795_000_000.25) == "2026-11-18T11:06:40.250000Z")
        #expect(RFC3339.format(epochSeconds: 59.9999996) == "1970-01-01T00:01:00.000000Z")
    }

    @Test("encoding: sorted snake_case keys, no NaN, redacted reasons, stable bytes")
    func encoding() throws {
        let r = try json(Samples.regions())
        #expect(r.hasPrefix("{\"frame\":120,\"inferred\":true,\"keyframe\":false,\"latency\":0.042,\"pts\":4.8,\"regions\":[{\"box\":[10,20,110.5,220],\"inferred_frame\":120,"))
        #expect(r.contains("\"score\":0,"))  // NaN became 0
        #expect(r.contains("\"schema\":\"regionspotd/regions/2\""))
        #expect(try json(Samples.regions()) == r)
        let s = try json(Samples.status()[0])
        #expect(s.contains("rtsp://***@cam/live"))
        #expect(!s.contains("pw"))
        let back = try JSONDecoder().decode(RegionsMessage.self, from: Data(r.utf8))
        #expect(back.regions[0].top[1] == LabelScore(label: "dog", score: 0.05))
    }

    @Test("every message kind validates against its JSON Schema; broken ones do not")
    func schemas() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var docs: [(schema: String, json: String)] = [
            ("regions.schema.json", try json(Samples.regions())),
            ("regions.schema.json", try json(RegionsMessage(stream: "x", frame: 0, pts: 0, time: 0, keyframe: true, inferred: false, regions: []))),
            ("tracks.schema.json", try json(Samples.track(.started))),
            ("tracks.schema.json", try json(Samples.track(.labelChanged))),
            ("tracks.schema.json", try json(Samples.track(.ended))),
        ]
        docs += try Samples.status().map { ("status.schema.json", try json($0)) }
        docs.append(("external-boxes.schema.json",
                     #"{"schema":"regionspotd/external-boxes/1","stream":"cam1","pts":12.5,"boxes":[{"box":[1,2,30,40],"label":"car","score":0.7}]}"#))
        let valid = try SchemaCheck.validate(docs, dir: dir)
        #expect(valid.count == docs.count)
        for (d, v) in zip(docs, valid) { #expect(v == nil, "\(d.schema): \(v ?? "")") }

        // The schemas reject what they should.
        var regions = try JSONSerialization.jsonObject(with: Data(try json(Samples.regions()).utf8)) as! [String: Any]
        regions["pts"] = nil
        let broken: [(schema: String, json: String)] = [
            ("regions.schema.json", String(decoding: try JSONSerialization.data(withJSONObject: regions), as: UTF8.self)),
            ("regions.schema.json", try json(Samples.regions()).replacingOccurrences(of: "\"tracked\"", with: "\"guessed\"")),
            ("tracks.schema.json", try json(Samples.track(.labelChanged)).replacingOccurrences(of: "\"previous_label\":\"dog\",", with: "")),
            ("status.schema.json", try json(Samples.status()[1]).replacingOccurrences(of: "\"streaming\"", with: "\"sleeping\"")),
            ("external-boxes.schema.json", #"{"schema":"regionspotd/external-boxes/1","stream":"cam1","boxes":[]}"#),
        ]
        let results = try SchemaCheck.validate(broken, dir: dir)
        #expect(results.count == broken.count)
        for (d, r) in zip(broken, results) { #expect(r != nil, "\(d.schema) accepted \(d.json)") }
    }

    @Test("external boxes: parsed, or rejected naming the field")
    func externalBoxes() throws {
        let ok = try ExternalBoxes.parse(Array(#"{"schema":"regionspotd/external-boxes/1","stream":"cam1","frame":40,"boxes":[{"box":[1,2,3,4],"id":"d7"}]}"#.utf8))
        #expect(ok.frame == 40)
        #expect(ok.boxes == [ExternalBox(box: [1, 2, 3, 4], label: nil, score: nil, id: "d7")])
        let cases: [(String, String)] = [
            (#"{"schema":"regionspotd/external-boxes/1","stream":"cam1","frame":1}"#, "missing field boxes"),
            (#"{"schema":"regionspotd/external-boxes/1","stream":"cam1","boxes":[]}"#, "needs frame or pts"),
            (#"{"schema":"regionspotd/external-boxes/1","stream":"cam1","pts":1,"boxes":[{"box":[5,2,3,4]}]}"#, "boxes[0].box"),
            (#"{"schema":"regionspotd/external-boxes/1","stream":"nope","pts":1,"boxes":[]}"#, "unknown stream 'nope'"),
            (#"{"schema":"other/1","stream":"cam1","pts":1,"boxes":[]}"#, "schema 'other/1'"),
            ("not json", "not a JSON object"),
        ]
        for (payload, message) in cases {
            let e = try #require(throws: ExternalBoxesError.self) {
                try ExternalBoxes.parse(Array(payload.utf8), knownStreams: ["cam1"])
            }
            #expect(e.description.contains(message), "\(payload) -> \(e.description)")
        }
    }
}

@Suite("Redaction and logging")
struct LoggingTests {
    @Test("journald lines: priority prefix, metadata, redaction, one line per event")
    func handler() {
        let sink = LogSink.capture()
        var h = JournalLogHandler(label: "rsd", level: .debug, sink: sink)
        h[metadataKey: "stream"] = "cam1"
        h.log(event: LogEvent(level: .error, message: "cannot open rtsp://a:b@cam/x\nretrying", metadata: ["try": "3"],
                              source: "t", file: #fileID, function: #function, line: #line))
        h.log(event: LogEvent(level: .debug, message: "d", metadata: nil, source: "t", file: #fileID, function: #function, line: #line))
        h.log(event: LogEvent(level: .warning, message: "w", metadata: ["why": "two words"], source: "t", file: #fileID, function: #function, line: #line))
        #expect(sink.lines == ["<3>rsd: cannot open rtsp://***@cam/x\\nretrying stream=cam1 try=3\n",
                               "<7>rsd: d stream=cam1\n",
                               "<4>rsd: w stream=cam1 why=\"two words\"\n"])
        #expect([Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map(JournalLogHandler.priority) == [7, 7, 6, 5, 4, 3, 2])
    }
}
