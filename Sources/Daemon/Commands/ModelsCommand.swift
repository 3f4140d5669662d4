// `regionspotd models info DIR`: what a model directory holds, every shape checked;
// `regionspotd models synthesize DIR`: random weights at a released variant's shapes.
import ArgumentParser
import Foundation
import Recognizer

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "Inspect model directories.", subcommands: [Info.self, Synthesize.self])

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
