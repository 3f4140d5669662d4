import Testing
@testable import Temporal

/// Exhaustive optimum with motmetrics' convention: most allowed pairs, then least cost.
func bruteForce(_ c: [Double], rows: Int, cols: Int) -> (pairs: Int, cost: Double) {
    var best = (pairs: 0, cost: 0.0)
    var usedCols = [Bool](repeating: false, count: cols)
    func go(_ r: Int, _ pairs: Int, _ cost: Double) {
        if r == rows {
            if pairs > best.pairs || (pairs == best.pairs && cost < best.cost - 1e-12) { best = (pairs, cost) }
            return
        }
        go(r + 1, pairs, cost)   // row r left unassigned
        for j in 0..<cols where !usedCols[j] && c[r * cols + j].isFinite {
            usedCols[j] = true
            go(r + 1, pairs + 1, cost + c[r * cols + j])
            usedCols[j] = false
        }
    }
    go(0, 0, 0)
    return best
}

@Suite struct AssignmentTests {
    @Test func matchesBruteForceOnRandomRectangularMatrices() {
        var rng = SplitMix64(seed: 7)
        for trial in 0..<400 {
            let rows = 1 + Int(rng.next() % 6), cols = 1 + Int(rng.next() % 6)
            let forbidRate = trial % 3 == 0 ? 0.0 : rng.uniform(0, 0.6)
            var c = [Double](repeating: 0, count: rows * cols)
            for k in c.indices {
                c[k] = rng.uniform(0, 1) < forbidRate ? .infinity : rng.uniform(-2, 10)
                if trial % 5 == 0 && c[k].isFinite { c[k] = Double(Int(c[k])) }  // ties
            }
            if trial % 7 == 0 { c[0] = .nan }
            let got = Assignment.solve(costs: c, rows: rows, cols: cols)
            let want = bruteForce(c, rows: rows, cols: cols)
            #expect(got.count == want.pairs, "trial \(trial) \(rows)x\(cols)")
            #expect(abs(Assignment.cost(got, costs: c, cols: cols) - want.cost) < 1e-9, "trial \(trial)")
            #expect(Set(got.map(\.row)).count == got.count && Set(got.map(\.col)).count == got.count)
            #expect(got.allSatisfy { c[$0.row * cols + $0.col].isFinite })
        }
    }

    @Test func knownSquareCase() {
        let pairs = Assignment.solve([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
        #expect(pairs.map(\.col) == [1, 0, 2])
        #expect(Assignment.cost(pairs, costs: [4, 1, 3, 2, 0, 5, 3, 2, 2], cols: 3) == 5)
    }

    @Test func allForbiddenAndEmpty() {
        #expect(Assignment.solve(costs: [.infinity, .nan], rows: 1, cols: 2).isEmpty)
        #expect(Assignment.solve(costs: [], rows: 0, cols: 3).isEmpty)
    }
}
