// model.json "precision_checks": read, validated, written, and what `auto` makes of them.
import Foundation
import Testing
@testable import Recognizer

@Suite("precision checks recorded with the model")
struct PrecisionCheckTests {
    @Test("records round-trip through model.json; the fingerprint follows every weight byte; a failed bf16 check makes auto fp32")
    func records() throws {
        let dir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = try ModelDirectory.settings(path: dir)
        let fp = try PrecisionCheck.fingerprint(directory: dir, settings: settings)
        let again = try PrecisionCheck.fingerprint(directory: dir, settings: settings)
        #expect(fp.count == 16 && fp == again)
        try PrecisionCheck.write([.bf16: .init(passes: false, weights: fp, summary: "bf16 summary (FAILS)"),
                                  .int8: .init(passes: true, weights: "0123456789abcdef", summary: "int8 summary (passes)")], directory: dir)
        let back = try ModelDirectory.settings(path: dir).precisionChecks
        #expect(back[.bf16] == .init(passes: false, weights: fp, summary: "bf16 summary (FAILS)"))
        #expect(back[.int8]?.weights == "0123456789abcdef")
        // int8's record is for other weights; bf16 failed on these: fp32, both reasons said
        let (p, note) = try Precision.auto.effective(modelDirectory: dir)
        if OneDNN.nativeBF16 && OneDNN.nativeInt8 {
            #expect(p == .fp32)
            #expect(note?.contains("bf16 failed its accuracy check on these weights (bf16 summary (FAILS))") == true, "\(note ?? "")")
            #expect(note?.contains("the int8 check in \(dir)/model.json was made on other weights") == true, "\(note ?? "")")
        }
        // explicit precisions never consult the records
        #expect(try Precision.fp32.effective(modelDirectory: dir).precision == .fp32)
        // a model loads with its records (the other settings untouched)
        #expect(try ModelDirectory(path: dir).settings.precisionChecks == back)
        // a passing int8 record on these weights, made by other kernels, is not trusted either
        try PrecisionCheck.write([.bf16: .init(passes: true, weights: fp, summary: "bf16 (passes)"),
                                  .int8: .init(passes: true, weights: fp, summary: "int8 (passes)", kernels: PrecisionCheck.kernels - 1)], directory: dir)
        #expect(try ModelDirectory.settings(path: dir).precisionChecks[.int8]?.kernels == PrecisionCheck.kernels - 1)
        if OneDNN.nativeBF16 && OneDNN.nativeInt8 {
            let (p2, note2) = try Precision.auto.effective(modelDirectory: dir)
            #expect(p2 == .bf16)
            #expect(note2?.contains("made by other int8 kernels (version \(PrecisionCheck.kernels - 1), this binary's: \(PrecisionCheck.kernels)") == true, "\(note2 ?? "")")
            try PrecisionCheck.write([.int8: .init(passes: true, weights: fp, summary: "int8 (passes)")], directory: dir)
            #expect(try Precision.auto.effective(modelDirectory: dir).precision == .int8)
        }

        // the fingerprint changes with one bit of a weight (a copy of the head, changed)
        let head = dir + "/head.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: head))
        try FileManager.default.removeItem(atPath: head)
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: URL(fileURLWithPath: head))
        #expect(try PrecisionCheck.fingerprint(directory: dir, settings: settings) != fp)
    }

    @Test("a malformed record is an error naming the file and the key")
    func malformed() throws {
        let dir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (json, key) in [(#"{"precision_checks": []}"#, "precision_checks: expected an object"),
                            (#"{"precision_checks": {"fp16": {}}}"#, "precision_checks.fp16: unknown precision"),
                            (#"{"precision_checks": {"int8": {"passes": "yes", "weights": "0123456789abcdef"}}}"#, "precision_checks.int8.passes: expected true or false"),
                            (#"{"precision_checks": {"int8": {"passes": 1, "weights": "0123456789abcdef"}}}"#, "precision_checks.int8.passes: expected true or false"),
                            (#"{"precision_checks": {"bf16": {"passes": true, "weights": "xyz"}}}"#, "precision_checks.bf16.weights: expected the 16-digit fingerprint"),
                            (#"{"precision_checks": {"int8": {"passes": true, "weights": "0123456789abcdef", "kernels": "2"}}}"#, "precision_checks.int8.kernels: expected a version number"),
                            (#"{"precision_checks": {"int8": {"passes": true, "weights": "0123456789abcdef", "kernels": 0}}}"#, "precision_checks.int8.kernels: expected a version number")] {
            try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/model.json"))
            do {
                _ = try ModelDirectory.settings(path: dir)
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.description.hasPrefix("\(dir)/model.json: \(key)"), "\(error)")
            }
        }
    }
}
