// The overload rules (Pipeline/Overload.swift) and the governor that applies them, with
// computed values: who the recognizer serves, who sheds what in which order, what is said.
import Foundation
import Logging
import Synchronization
import Testing
@testable import Daemon

@Suite("Overload: fair recognition and shedding order")
struct OverloadTests {
    typealias C = RecognitionQueue.Candidate

    @Test("the free recognizer serves the oldest label, not whoever submitted last")
    func oldestFirst() {
        let c = [C(stream: "a", priority: 0, labelAge: 3), C(stream: "b", priority: 0, labelAge: 40), C(stream: "c", priority: 0, labelAge: 12)]
        #expect(RecognitionQueue.pick(c, maxLabelAge: 60) == 1)
        #expect(RecognitionQueue.pick([], maxLabelAge: 60) == nil)
        // equal ages: the higher priority, then the id
        let tie = [C(stream: "b", priority: 0, labelAge: 5), C(stream: "a", priority: 0, labelAge: 5), C(stream: "c", priority: 9, labelAge: 5)]
        #expect(RecognitionQueue.pick(tie, maxLabelAge: 60) == 2)
        #expect(RecognitionQueue.pick(Array(tie.prefix(2)), maxLabelAge: 60) == 1)
    }

    @Test("overdue streams first, the doorway before the parking lot")
    func overdueByPriority() {
        let c = [C(stream: "parking", priority: 0, labelAge: 200), C(stream: "doorway", priority: 10, labelAge: 70),
                 C(stream: "hall", priority: 20, labelAge: 50)]
        // both overdue ones beat the fresher high-priority one; among them priority wins
        #expect(RecognitionQueue.pick(c, maxLabelAge: 60) == 1)
        // once the doorway is relabelled, the parking lot (still overdue) is next, not the hall
        let after = [c[0], C(stream: "doorway", priority: 10, labelAge: 0), c[2]]
        #expect(RecognitionQueue.pick(after, maxLabelAge: 60) == 0)
    }

    @Test("round-robin by age: with one recognizer every stream is served once per round")
    func everyStreamServed() {
        // 12 streams always waiting, each recognition takes 8 s: simulate 3 rounds
        var labelled = (0..<12).map { -Double($0) * 0.1 }  // started almost together
        var served: [Int] = []
        var now = 0.0
        for _ in 0..<36 {
            let c = labelled.indices.map { C(stream: "s\($0)", priority: 0, labelAge: now - labelled[$0]) }
            let i = RecognitionQueue.pick(c, maxLabelAge: 120)!
            served.append(i)
            now += 8
            labelled[i] = now - 8  // labels of the keyframe selected when it started
        }
        for s in 0..<12 { #expect(served.filter { $0 == s }.count == 3, "stream \(s) served \(served.filter { $0 == s }.count) times") }
        #expect(Array(served.prefix(12)) == Array((0..<12).reversed()), "oldest (earliest registered) first")
    }

    typealias S = OverloadPolicy.Stream

    @Test("shedding: lowest priority first, a level for all of a priority before the next level")
    func shedOrder() {
        var s = [S(id: "door", priority: 10, level: .none), S(id: "lot1", priority: 0, level: .none), S(id: "lot2", priority: 0, level: .none)]
        var steps: [OverloadPolicy.Step] = []
        while let st = OverloadPolicy.step(s, secondsPerRecognition: 60, maxLabelAge: 60) {
            steps.append(st)
            guard case let .shed(id, to) = st else { break }
            s[s.firstIndex { $0.id == id }!].level = to
        }
        #expect(steps == [.shed("lot1", to: .tracking), .shed("lot2", to: .tracking), .shed("lot1", to: .nonReference),
                          .shed("lot2", to: .nonReference), .shed("lot1", to: .keyframesOnly), .shed("lot2", to: .keyframesOnly),
                          .shed("door", to: .tracking), .shed("door", to: .nonReference), .shed("door", to: .keyframesOnly)])
        // giving back goes in reverse: the doorway first
        #expect(OverloadPolicy.step(s, secondsPerRecognition: 1, maxLabelAge: 60) == .relieve("door", to: .nonReference))
    }

    @Test("the round decides: shed above 80% of max_label_age, give back below 50%, hold between")
    func thresholds() {
        let s = (1...4).map { S(id: "s\($0)", priority: 0, level: .tracking) }
        // 4 streams x 10 s = 40 s round
        #expect(OverloadPolicy.step(s, secondsPerRecognition: 10, maxLabelAge: 120) == .relieve("s4", to: .none))  // 40 < 60
        #expect(OverloadPolicy.step(s, secondsPerRecognition: 10, maxLabelAge: 60) == nil)  // 30 <= 40 <= 48
        #expect(OverloadPolicy.step(s, secondsPerRecognition: 10, maxLabelAge: 45) == .shed("s1", to: .nonReference))  // 40 > 36
        #expect(OverloadPolicy.step(s.map { S(id: $0.id, priority: 0, level: .none) }, secondsPerRecognition: 1, maxLabelAge: 60) == nil)
    }

    @Test("a shed stream tracks keyframes and every 5th frame; the decoder discards by level")
    func levels() {
        let tracked = (0..<25).filter { ShedLevel.tracking.tracks(frameIndex: $0, keyframe: $0 == 12) }
        #expect(tracked == [0, 5, 10, 12, 15, 20])
        #expect((0..<25).filter { ShedLevel.none.tracks(frameIndex: $0, keyframe: false) }.count == 25)
        #expect(ShedLevel.allCases.map(\.discard) == [.none, .none, .nonReference, .nonKey])
        #expect(ShedLevel.allCases.map(\.name) == ["none", "tracking", "non_reference", "keyframes_only"])
    }

    @Test("the governor: sheds while a recognition runs too long, one step a second, gives back after 10 s held, labels reset the age")
    func governor() {
        let clock = Mutex(1000.0)
        let g = OverloadGovernor(maxLabelAge: 10, logger: Logger(label: "test"), clock: { clock.withLock { $0 } })
        let applied = Mutex<[String: ShedLevel]>([:])
        for (id, p) in [("door", 5), ("lot", 0)] {
            g.register(id, priority: p, metrics: nil, status: nil, apply: { l in applied.withLock { $0[id] = l } })
        }
        g.tick()
        #expect(applied.withLock { $0 }.isEmpty, "nothing measured yet: nothing shed")
        #expect(g.summary == "")
        g.started("lot")
        clock.withLock { $0 += 5 }  // running 5 s: 2 streams x 5 s = 10 s round > 8 s
        g.tick()
        #expect(applied.withLock { $0 } == ["lot": .tracking])
        g.tick()  // same second: no second step
        #expect(g.level("lot") == .tracking)
        clock.withLock { $0 += 1 }
        g.tick()
        #expect(applied.withLock { $0 } == ["lot": .nonReference])
        #expect(g.summary == "overloaded: 1 streams shedding (lot non_reference)")
        // the recognition ends after 6 s (keyframe selected at 1000): lot's label is 6 s old
        g.finished("lot", submitted: 1000)
        #expect(g.labelAge("lot") == 6)
        #expect(g.labelAge("door") == 6, "never labelled: aged since it started")
        clock.withLock { $0 += 5 }
        g.tick()  // last recognition 6 s: round 12 s > 8: lot sheds on to keyframes only
        #expect(g.level("lot") == .keyframesOnly)
        #expect(g.summary.contains("door 11 s"), "door's label is older than max_label_age: \(g.summary)")
        // a quick recognition measured after the last change: the last step is given back
        clock.withLock { $0 += 1 }
        g.started("door")
        clock.withLock { $0 += 1 }
        g.finished("door", submitted: 1012)
        clock.withLock { $0 += 1 }
        g.tick()  // round 2 x 1 s = 2 s < 5 s, but 3 s after the last step: held
        #expect(g.level("lot") == .keyframesOnly)
        #expect(g.labelAge("door") == 2)
        clock.withLock { $0 += 7 }
        g.tick()  // 10 s after the last step
        #expect(g.level("lot") == .nonReference)
        #expect(applied.withLock { $0 } == ["lot": .nonReference])
        #expect(RecognitionQueue.pick([.init(stream: "door", priority: 5, labelAge: g.labelAge("door")),
                                       .init(stream: "lot", priority: 0, labelAge: g.labelAge("lot"))], maxLabelAge: 10) == 1)
    }

    @Test("regionspotd tail prints the overload state of overload and rates events")
    func tailLine() throws {
        let o = OverloadStatus(state: .shedding, labelAge: 42.5, maxLabelAge: 120, shed: "non_reference")
        let event = TailFormat.line(topic: "status.cam1", payload: try MessageCoding.encode(StatusMessage.overload(o, stream: "cam1", state: .streaming, time: 0)))
        #expect(event.hasSuffix(" status.cam1 streaming; overload shedding: shed non_reference, label 42.5 s old"), "\(event)")
        let rates = StreamRates(interval: 1, decodedFPS: 5, publishedFPS: 5, recognitionsPerSecond: 0, recognitionsSkipped: 0, framesDropped: 0,
                                liveTracks: 0, recognitionLatency: nil)
        let line = TailFormat.line(topic: "status.cam1", payload: try MessageCoding.encode(StatusMessage.rates(rates, stream: "cam1", state: .streaming, time: 0, overload: o)))
        #expect(line.hasSuffix("; overload shedding: shed non_reference, label 42.5 s old"), "\(line)")
    }
}

