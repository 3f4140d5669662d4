import Temporal
import Testing
@testable import Daemon

@Suite("Latency compensation")
struct LatencyCompensationTests {
    @Test("late boxes follow their tracks' motion; boxes no track knew stay put")
    func carry() {
        let then: [UInt64: Box] = [1: Box(x1: 100, y1: 100, x2: 200, y2: 200), 2: Box(x1: 500, y1: 100, x2: 540, y2: 180)]
        let now: [UInt64: Box] = [1: Box(x1: 160, y1: 90, x2: 260, y2: 190),  // moved (+60, -10)
                                  2: Box(x1: 480, y1: 100, x2: 560, y2: 260)]  // centre (+0, +40), twice the size
        let seen = [Box(x1: 104, y1: 98, x2: 206, y2: 204),   // re-prompted track 1 (tagged)
                    Box(x1: 505, y1: 105, x2: 545, y2: 185),  // overlaps track 2 (untagged: motion/everything)
                    Box(x1: 900, y1: 600, x2: 950, y2: 650)]  // a new object
        let out = LatencyCompensation.carry(seen, trackTags: [1, nil, nil], then: then, now: now)
        #expect(out[0] == Box(x1: 164, y1: 88, x2: 266, y2: 194))
        // track 2: centre 520,140 -> 520,180, scale 2: the box's offset (+5, +5) doubles
        #expect(abs(out[1].cx - 530) < 1e-4 && abs(out[1].cy - 190) < 1e-4 && abs(out[1].width - 80) < 1e-4 && abs(out[1].height - 160) < 1e-4)
        #expect(out[2] == seen[2])
        // A track that ended meanwhile: the box stays where it was seen.
        #expect(LatencyCompensation.carry([seen[0]], trackTags: [1], then: then, now: [2: now[2]!]) == [seen[0]])
    }
}
