import Foundation
import Testing
@testable import Recognizer

/// make-shapes' crossing scenes: shapes enter, cross and leave, with exact truth.
@Suite("Shapes crossing scenes")
struct ShapesScenesTests {
    struct Appearance { var first: Int; var last: Int; var frames: Int; var labels: Set<Int> }

    /// Renders and checks what holds in every frame; returns each track's appearances.
    func render(_ o: ShapesScenes.Options) -> (tracks: [Int: Appearance], overlaps: Int, rgb: [[UInt8]]) {
        var tracks: [Int: Appearance] = [:]
        var overlaps = 0
        var rgb: [[UInt8]] = []
        ShapesScenes.render(o) { i, f in
            #expect(f.rgb.count == o.width * o.height * 3)
            #expect(f.boxes.count == f.labels.count && f.labels.count == f.tracks.count && f.tracks.count == f.visibility.count)
            #expect(Set(f.tracks).count == f.tracks.count && f.tracks.count <= o.objects)
            for (k, b) in f.boxes.enumerated() {
                #expect(b[0] >= 0 && b[1] >= 0 && b[2] <= Float(o.width) && b[3] <= Float(o.height) && b[2] > b[0] && b[3] > b[1])
                #expect(f.visibility[k] >= 0 && f.visibility[k] <= 1)
                // A whole, unoccluded shape is 50-110 px across (triangles and stars a little less).
                if f.visibility[k] == 1 { #expect(max(b[2] - b[0], b[3] - b[1]) >= 40 && max(b[2] - b[0], b[3] - b[1]) <= 110) }
                var a = tracks[f.tracks[k]] ?? Appearance(first: i, last: i, frames: 0, labels: [])
                a.last = i; a.frames += 1; a.labels.insert(f.labels[k])
                tracks[f.tracks[k]] = a
                for j in (k + 1)..<f.boxes.count {
                    let c = f.boxes[j]
                    if b[0] < c[2] && c[0] < b[2] && b[1] < c[3] && c[1] < b[3] { overlaps += 1 }
                }
            }
            if i < 3 { rgb.append(f.rgb) }
        }
        return (tracks, overlaps, rgb)
    }

    @Test("320x240 and 640x360: shapes enter and leave (contiguous appearances), cross, keep one class per track id; deterministic")
    func crossing() {
        for (w, h, n, seed) in [(320, 240, 3, UInt64(1000)), (640, 360, 5, UInt64(1001))] {
            let o = ShapesScenes.Options(width: w, height: h, objects: n, seed: seed, frames: 150)
            let (tracks, overlaps, rgb) = render(o)
            #expect(tracks.count > n, "\(w)x\(h): slots respawn after their shape leaves (\(tracks.count) tracks)")
            for (id, a) in tracks {
                #expect(a.labels.count == 1, "track \(id) changed class")
                #expect(a.frames == a.last - a.first + 1, "track \(id) appears in one stretch")
            }
            // Entering after the start and leaving before the end.
            #expect(tracks.values.filter { $0.first > 0 && $0.last < o.frames - 1 }.count >= 2)
            #expect(overlaps > 0, "\(w)x\(h): paths cross")
            #expect(Set(tracks.values.flatMap(\.labels)).count >= 3)
            // The same seed gives the same frames; another seed another scene.
            #expect(render(o).rgb == rgb)
            var other = o
            other.seed += 1
            #expect(render(other).rgb != rgb)
        }
    }

    @Test("visibility: a shape's visible share of its full area (frame edges and nearer shapes)")
    func visibility() {
        // A 60 px square wholly on screen covers 3600 pixels: visibility 1 when not covered.
        #expect(ShapesScenes.fullArea(0, 60) == 3600)
        #expect(ShapesScenes.fullArea(1, 60) < 3600 && ShapesScenes.fullArea(1, 60) > 2700)  // circle ~ pi/4
        var partial = 0
        ShapesScenes.render(ShapesScenes.Options(width: 320, height: 240, objects: 4, seed: 1002, frames: 120)) { _, f in
            for (k, b) in f.boxes.enumerated() where b[0] == 0 || b[1] == 0 || b[2] == 320 || b[3] == 240 {
                // At a frame edge (entering or leaving) a shape is mostly less than whole.
                if f.visibility[k] < 1 { partial += 1 }
            }
        }
        #expect(partial > 10)
    }
}
