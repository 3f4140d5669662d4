// A keyframe the encoders rest on: which tracks count a missed keyframe. vtest.avi at 0:57:
// a man standing (his box's thumbnail 25 from its last match, nothing moving) and a pair
// standing and talking (40-55, one moving region over both, dropped as a crowd) counted
// two rested looks as misses and went unpublished for a second.
import Temporal
import Testing
@testable import Daemon

@Suite("Rested keyframes: evidence that an object left")
struct RestedKeyframeTests {
    func box(_ x: Float, _ y: Float, _ w: Float, _ h: Float) -> Box { Box(x1: x, y1: y, x2: x + w, y2: y + h) }

    @Test("a moving region over two held tracks is dropped and names them; one over a single track is kept")
    func crowds() {
        let a = box(160, 350, 50, 160), b = box(195, 388, 62, 130), c = box(630, 300, 40, 115)
        let pair = box(155, 345, 110, 180), lone = box(628, 298, 44, 120), edge = box(240, 380, 60, 140)
        let split = StreamPipeline.separateCrowds([pair, lone, edge], held: [(17, a), (19, b), (8, c)])
        #expect(split.kept == [1, 2], "the pair's region is dropped, the lone man's and one over a sliver of 19 kept")
        #expect(split.crowded == [17, 19])
        #expect(StreamPipeline.separateCrowds([pair], held: [(17, a)]).crowded.isEmpty)
    }

    @Test("a crowded track the tracker holds and no box prompts asks for nothing a look can answer")
    func unservedRequests() throws {
        var t = Tracker()
        let frame0 = FrameInfo(index: 0, time: 0, width: 768, height: 576)
        // a pair crossing, a star behind the square (its box inside the square's), a lone man
        t.update(frame: frame0, proposals: [box(160, 350, 50, 160), box(195, 388, 62, 130), box(400, 100, 120, 120),
                                            box(420, 120, 40, 40), box(630, 300, 40, 115)].map { Proposal(box: $0, score: 0.95) })
        let ids = t.tracks.map(\.id)
        try #require(ids.count == 5 && t.tracks.allSatisfy { $0.state == .confirmed })
        let at = FrameInfo(index: 10, time: 1, width: 768, height: 576)
        let crowded: Set<UInt64> = [ids[0], ids[1], ids[2], ids[3]]
        let prompted = [ProposalCandidate(box: box(195, 388, 62, 130), source: .tracked, tag: String(ids[1]))]
        // the first of the pair: held, not prompted; the second is prompted; the square and
        // the star inside it: a look can tell the star is gone; the man is not crowded
        #expect(StreamPipeline.unserved(crowded: crowded, candidates: prompted, tracker: t, at: at) == [ids[0], ids[2]])
        // past maxHeldSeconds the tracker holds nothing: every request can be answered
        let late = FrameInfo(index: 90, time: 3, width: 768, height: 576)
        #expect(StreamPipeline.unserved(crowded: crowded, candidates: prompted, tracker: t, at: late).isEmpty)
    }

    @Test("gone only beyond the still-there tolerance, never inside a crowd, never without evidence")
    func goneRule() {
        #expect(!StreamPipeline.gone(change: nil, crowded: false))
        #expect(!StreamPipeline.gone(change: 25, crowded: false), "the standing man")
        #expect(!StreamPipeline.gone(change: StreamPipeline.stillThereTolerance, crowded: false))
        #expect(StreamPipeline.gone(change: StreamPipeline.stillThereTolerance + 1, crowded: false))
        #expect(!StreamPipeline.gone(change: 55, crowded: true), "the pair")
        #expect(StreamPipeline.gone(change: 59, crowded: false), "a person who walked away: ground where he stood")
    }

    @Test("over two rested looks the pair and the standing man stay published; a track whose object left is lost")
    func restedLooks() throws {
        var config = TrackerConfig()
        config.lostAfterMisses = 2
        var t = Tracker(config: config)
        let pair = [box(160, 350, 50, 160), box(195, 388, 62, 130)], man = box(630, 300, 40, 115), left = box(400, 200, 30, 80)
        t.update(frame: FrameInfo(index: 0, time: 0, width: 768, height: 576),
                 proposals: (pair + [man, left]).map { Proposal(box: $0, score: 0.9) })
        let ids = t.tracks.map(\.id)
        try #require(ids.count == 4)
        // what the thumbnails say on both looks: the pair moved in place, the man turned, the
        // fourth box shows the ground its person walked off
        let change: [UInt64: Float] = [ids[0]: 45, ids[1]: 55, ids[2]: 25, ids[3]: 80]
        for (k, i) in [10, 20].enumerated() {
            let frame = FrameInfo(index: i, time: Double(k + 1), width: 768, height: 576)
            let regions = [box(155, 345, 110, 180)]  // one region over the pair; nothing else moves
            let held = t.tracks.filter { $0.state == .confirmed }.map { ($0.id, $0.box) }
            let split = StreamPipeline.separateCrowds(regions, held: held)
            t.reanchor(frame: frame, boxes: split.kept.map { regions[$0] },
                       gone: { StreamPipeline.gone(change: change[$0.id], crowded: split.crowded.contains($0.id)) })
        }
        #expect(t.regions().map(\.trackID) == Array(ids[0..<3]), "published: \(t.regions().map(\.trackID))")
        #expect(t.tracks.first { $0.id == ids[3] }?.state == .lost)
    }
}
