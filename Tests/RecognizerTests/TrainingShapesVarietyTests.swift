import Foundation
import Testing
@testable import Recognizer

/// make-shapes' variety options: the default style is the original stream; resolutions,
/// scaled sizes, overlaps and visible-pixel boxes otherwise.
@Suite("Training: shapes variety")
struct TrainingShapesVarietyTests {
    static func isClass(_ l: Int, _ p: (Int, Int, Int)) -> Bool {
        switch l {
        case 0: return p.0 > 180 && p.1 < 90
        case 1: return p.2 > 180 && p.0 < 90
        case 2: return p.1 > 140 && p.0 < 90
        default: return p.0 > 200 && p.1 > 170 && p.2 < 90
        }
    }

    @Test("default style = the original pictures; varied: resolution in range, sizes scaled, overlaps, boxes tight on the visible pixels")
    func variety() {
        let a = ShapesDataset.picture(seed: 11, index: 3, style: ShapesStyle()), b = ShapesDataset.picture(seed: 11, index: 3)
        #expect(a.rgb == b.rgb && a.boxes == b.boxes && a.labels == b.labels)
        let style = ShapesStyle(resolution: 224...640, variedBackgrounds: true, overlap: true, scaleSizes: true)
        var overlapping = 0, sides = Set<Int>(), maxCount = 0
        for i in 0..<40 {
            let p = ShapesDataset.picture(seed: 6, index: i, maxShapes: 5, sizes: 56...110, style: style)
            let q = ShapesDataset.picture(seed: 6, index: i, maxShapes: 5, sizes: 56...110, style: style)
            #expect(p.rgb == q.rgb && p.boxes == q.boxes)
            #expect((224...640).contains(p.width) && (224...640).contains(p.height) && p.rgb.count == p.width * p.height * 3)
            sides.insert(p.width / 100)
            #expect(!p.labels.isEmpty && p.labels.count <= 5 && p.boxes.count == p.labels.count)
            maxCount = max(maxCount, p.labels.count)
            let f = Double(min(p.width, p.height)) / 224
            for (k, (box, l)) in zip(p.boxes, p.labels).enumerated() {
                #expect(box[0] >= 0 && box[1] >= 0 && box[2] <= Float(p.width) && box[3] <= Float(p.height))
                // at most the scaled largest size; the left and right columns hold a pixel of the class colour
                #expect(Double(box[2] - box[0]) <= 110 * f + 1 && Double(box[3] - box[1]) <= 110 * f + 1)
                for x in [Int(box[0]), Int(box[2]) - 1] {
                    let hit = (Int(box[1])..<Int(box[3])).contains { y in
                        let o = (y * p.width + x) * 3
                        return Self.isClass(l, (Int(p.rgb[o]), Int(p.rgb[o + 1]), Int(p.rgb[o + 2])))
                    }
                    #expect(hit, "picture \(i) box \(k) (\(ShapesDataset.classes[l])) column \(x)")
                }
                for other in p.boxes[(k + 1)...] where boxIntersection(box, other) > 0 { overlapping += 1 }
            }
        }
        #expect(overlapping > 0 && sides.count >= 4 && maxCount == 5, "overlaps \(overlapping), sides \(sides), max \(maxCount)")
        // without overlap, boxes keep apart
        for i in 0..<20 {
            let p = ShapesDataset.picture(seed: 6, index: i, maxShapes: 5, sizes: 56...110, style: ShapesStyle(resolution: 224...640, scaleSizes: true))
            for (k, box) in p.boxes.enumerated() { for other in p.boxes[(k + 1)...] { #expect(boxIntersection(box, other) == 0) } }
        }
    }

    @Test("edge shapes: about the asked share of the shapes crosses an edge, 30-90 % of it inside; a box is its visible pixels and holds the class's colour")
    func edgeShapes() {
        var style = ShapesStyle(resolution: 300...640, variedBackgrounds: true, overlap: true)
        style.edgeFraction = 0.5
        var cut = 0, total = 0
        for i in 0..<60 {
            let p = ShapesDataset.picture(seed: 27, index: i, maxShapes: 5, sizes: 40...110, style: style)
            for (b, l) in zip(p.boxes, p.labels) {
                total += 1
                #expect(b[0] >= 0 && b[1] >= 0 && b[2] <= Float(p.width) && b[3] <= Float(p.height) && b[2] > b[0] && b[3] > b[1])
                if b[0] == 0 || b[1] == 0 || b[2] == Float(p.width) || b[3] == Float(p.height) { cut += 1 }
                // the box's own pixels include the class's colour (the visible part is there)
                var found = false
                for y in Int(b[1])..<Int(b[3]) where !found {
                    for x in Int(b[0])..<Int(b[2]) {
                        let k = (y * p.width + x) * 3
                        if Self.isClass(l, (Int(p.rgb[k]), Int(p.rgb[k + 1]), Int(p.rgb[k + 2]))) { found = true; break }
                    }
                }
                #expect(found, "picture \(i): no \(ShapesDataset.classes[l]) pixel in \(b)")
            }
        }
        // half the shapes are placed across an edge (some of the others touch one by chance)
        #expect(Double(cut) / Double(total) >= 0.4 && Double(cut) / Double(total) <= 0.7, "\(cut) of \(total) cut")
    }
}
