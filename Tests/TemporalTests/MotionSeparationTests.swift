import Testing
@testable import Temporal

@Suite("Motion separation: objects that touch, told apart by their vectors")
struct MotionSeparationTests {
    func region(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float, _ dx: Float = 0, _ dy: Float = 0, cells: Int = 20) -> MotionRegion {
        MotionRegion(box: Box(x1: x1, y1: y1, x2: x2, y2: y2), cells: cells, dx: dx, dy: dy)
    }

    // Scene 1002 at 7 s: a triangle overlapping a circle, one background region over both;
    // the vectors of the two frames before the keyframe move at (-3.8, -3.1) and (-2, -1.9).
    let pair = MotionRegion(box: Box(x1: 151, y1: 82, x2: 302, y2: 202), cells: 0)
    let before = [MotionSeparationTests.vr(208, 112, 304, 206, -2.0, -2.0), MotionSeparationTests.vr(160, 87, 224, 169, -3.9, -2.0)]
    let now = [MotionSeparationTests.vr(208, 112, 304, 204, -2.0, -1.9), MotionSeparationTests.vr(160, 84, 224, 169, -3.8, -3.1)]
    static func vr(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float, _ dx: Float, _ dy: Float) -> MotionRegion {
        MotionRegion(box: Box(x1: x1, y1: y1, x2: x2, y2: y2), cells: 20, dx: dx, dy: dy)
    }

    @Test("two objects moving apart, frame after frame: the region is cut into the last frame's parts, clipped to it, sides within a block of its own snapped to them")
    func cut() {
        let other = region(0, 28, 62, 122)
        let (out, apart) = MotionSeparation.separate([other, pair], by: [before, now])
        #expect(out.count == 3 && apart == [1, 2])
        #expect(out[0] == other)
        // as many cells each: top-left first; the triangle's left and top sides lie 9 and
        // 2 px inside the region's (pixel-tight) ones: the region's
        #expect(out[1].box == Box(x1: 151, y1: 82, x2: 224, y2: 169))
        #expect(out[1].dx == -3.8 && out[1].dy == -3.1)
        #expect(out[2].box == Box(x1: 208, y1: 112, x2: 302, y2: 202))   // clipped to the region
    }

    @Test("one frame's cut, or two frames cutting differently, is not enough")
    func persistence() {
        #expect(MotionSeparation.separate([pair], by: [[], now]).apart.isEmpty)
        #expect(MotionSeparation.separate([pair], by: [now]).apart == [0, 1])
        // the frame before cut the region elsewhere (scene 1003: a fast shape's sides)
        let elsewhere = [Self.vr(151, 82, 200, 202, -2.0, -2.0), Self.vr(240, 82, 302, 202, -3.9, -2.0)]
        #expect(MotionSeparation.separate([pair], by: [elsewhere, now]).apart.isEmpty)
        // the frame before saw the triangle's part move like the circle's
        let alike = [before[0], Self.vr(160, 87, 224, 169, -2.1, -2.0)]
        #expect(MotionSeparation.separate([pair], by: [alike, now]).apart.isEmpty)
    }

    @Test("one object: parts moving alike, parts lying across each other, a small part, or parts covering too little stay one region")
    func oneObject() {
        // a flat shape's vectors from its two sides, moving alike
        let sides = [Self.vr(151, 82, 190, 202, -2.0, -2.0), Self.vr(260, 82, 302, 202, -2.3, -1.8)]
        #expect(MotionSeparation.separate([pair], by: [sides, sides]).apart.isEmpty)
        // a fast shape whose sides' vectors differ, lying across each other (overlap 50%)
        let across = [Self.vr(151, 82, 250, 202, -8.9, -0.2), Self.vr(200, 82, 302, 202, -5.0, -0.1)]
        #expect(MotionSeparation.separate([pair], by: [across, across]).apart.isEmpty)
        // a part of under 15% of the region (an arm swinging)
        let arm = [now[0], Self.vr(160, 84, 180, 120, -3.8, -3.1)]
        #expect(MotionSeparation.separate([pair], by: [arm, arm]).apart.isEmpty)
        // parts covering under half the region
        let little = [Self.vr(151, 82, 200, 150, -2.0, -2.0), Self.vr(250, 140, 302, 202, -3.9, -2.0)]
        #expect(MotionSeparation.separate([pair], by: [little, little]).apart.isEmpty)
        // a vector region mostly outside the region is someone else's
        let outside = [now[0], Self.vr(100, 84, 170, 169, -3.8, -3.1)]
        #expect(MotionSeparation.separate([pair], by: [outside, outside]).apart.isEmpty)
    }
}
