import ArgumentParser
import Decode

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Decode a source to its end and print what it holds.")
    @Argument(help: "A file path or a file:/rtsp:/rtsps: URL.") var url: String
    func run() async throws {
        print(Decode.version)
    }
}
