// `regionspotd models info DIR`: what a model directory holds, every shape checked;
// `regionspotd models synthesize DIR`: random weights at a released variant's shapes;
// `regionspotd models check DIR`: bf16 and int8 against fp32 on the model's own weights,
// the verdicts recorded in its model.json (what `models.precision: auto` may pick).
import ArgumentParser
import Decode
import Foundation
import Recognizer

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "Inspect model directories.", subcommands: [Info.self, Synthesize.self, Check.self])

    /// Writes a model directory of generated weights at a released variant's shapes, for
    /// measuring start-up, memory and throughput without downloading real weights.
    struct Synthesize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "synthesize",
            abstract: "Write a model directory with random weights at real shapes (bb: SAM ViT-B + CLIP ViT-B/16 + head).")
        @Argument(help: "Output directory.") var directory: String
        @Option(help: "bb or bl (SAM ViT-B with CLIP ViT-B/16 or ViT-L/14).") var variant: String = "bb"
        @Option(help: "The CLIP BPE vocabulary to copy (bpe_simple_vocab_16e6.txt.gz).") var bpe: String = "Tests/RecognizerTests/Fixtures/bpe_simple_vocab_16e6.txt.gz"
        func run() async throws {
            let cmd = self
            try await onThread("synthesize") { try cmd.synthesize() }
        }

        func synthesize() throws {
            let (vision, text): (CLIPVisionConfig, CLIPTextConfig) = variant == "bl" ? (.l14, .l) : (.b16, .b)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try writeSafeTensors(SAMConfig.vitB.syntheticWeights(), to: directory + "/sam.safetensors")
            try writeSafeTensors(syntheticCLIPWeights(vision: vision, text: text), to: directory + "/clip.safetensors")
            try writeSafeTensors(syntheticHeadWeights(width: vision.width, embedDim: vision.embedDim), to: directory + "/head.safetensors")
            let dst = directory + "/bpe_simple_vocab_16e6.txt.gz"
            try? FileManager.default.removeItem(atPath: dst)
            try FileManager.default.copyItem(atPath: bpe, toPath: dst)
            print(try ModelDirectory(path: directory).summary)
        }
    }

    /// Runs the accuracy checks of `models.precision` (PrecisionComparison: top-1 labels,
    /// max |Δprob| ≤ 1e-2, SAM mask IoU ≥ 0.98) for each reduced precision this CPU runs,
    /// on the model's own weights, and records each verdict with the weights' fingerprint
    /// in model.json ("precision_checks"): `auto` then runs int8 only where it passed on
    /// these weights (PrecisionCheck).
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check",
            abstract: "Check bf16 and int8 against fp32 on a model's own weights; record the verdicts in its model.json for models.precision auto.")
        @Argument(help: "Model directory.") var directory: String
        @Option(help: "The reduced precisions to check, comma-separated (bf16, int8).") var precision: String = "bf16,int8"
        @Option(help: "A PNG or JPEG to check on (default: a 1024x768 test pattern).") var image: String?
        @Option(help: "Boxes on the image (16: the bench's spread).") var boxes: Int = 16
        @Flag(help: "Print the verdicts without writing model.json.") var dryRun = false
        func run() async throws {
            let cmd = self
            do { try await onThread("models-check") { try cmd.check() } } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
                FileHandle.standardError.write(Data("regionspotd models check: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }

        func check() throws {
            var wanted: [Precision] = []
            for s in precision.split(separator: ",") {
                let name = s.trimmingCharacters(in: .whitespaces)
                guard let p = Precision(rawValue: name), p == .bf16 || p == .int8 else { throw ValidationError("--precision: '\(name)' is not bf16 or int8") }
                wanted.append(p)
            }
            guard (1...256).contains(boxes) else { throw ValidationError("--boxes: \(boxes) is not between 1 and 256") }
            var rgb = PrecisionCheck.probeImage(), (w, h) = PrecisionCheck.probeSize
            if let image {
                let img = try decodeImage(path: image)
                (rgb, w, h) = (img.bytes, img.width, img.height)
            }
            let settings = try ModelDirectory.settings(path: directory)  // names a missing directory
            let fingerprint = try PrecisionCheck.fingerprint(directory: directory, settings: settings)
            let probe = PrecisionCheck.probeBoxes(boxes, width: w, height: h)
            var fp32: [RecognizedRegion]?
            var records: [Precision: PrecisionCheck.Record] = [:]
            for p in wanted {
                let (effective, note) = try p.effective()
                guard effective == p else { print("\(p.rawValue): not checked: \(note ?? "")"); continue }
                if fp32 == nil { fp32 = try PrecisionCheck.regions(directory: directory, precision: .fp32, rgb: rgb, width: w, height: h, boxes: probe) }
                let cmp = PrecisionComparison(try PrecisionCheck.regions(directory: directory, precision: p, rgb: rgb, width: w, height: h, boxes: probe), fp32: fp32!)
                print("\(p.rawValue) vs fp32, \(probe.count) boxes with masks: \(cmp)")
                records[p] = PrecisionCheck.Record(passes: cmp.passes, weights: fingerprint, summary: cmp.description)
            }
            if dryRun || records.isEmpty { return }
            try PrecisionCheck.write(records, directory: directory)
            let (auto, note) = try Precision.auto.effective(modelDirectory: directory)
            print("recorded in \(directory)/model.json (weights \(fingerprint)); models.precision auto runs \(auto.rawValue) here")
            if let note { print(note) }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "List what a model directory holds and check every shape.")
        @Argument(help: "Model directory.") var directory: String
        func run() async throws {
            do {
                let m = try ModelDirectory(path: directory)
                _ = try m.tokenizer()
                print(m.summary)
                print("ok: every tensor present with the expected shape")
            } catch {
                FileHandle.standardError.write(Data("regionspotd models info: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
