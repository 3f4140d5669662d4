import ArgumentParser

/// `regionspotd`: the daemon and its operator tools, one subcommand each.
@main
struct RegionSpotD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regionspotd",
        abstract: "Recognize any region in live or recorded video (RegionSpot on SAM + CLIP).",
        version: "0.1.0",
        subcommands: [
            RunCommand.self,
            ProbeCommand.self,
            RecognizeCommand.self,
            ModelsCommand.self,
            BenchCommand.self,
            CheckConfigCommand.self,
            TailCommand.self,
            ProxyCommand.self,
            KeygenCommand.self,
            ReplayCommand.self,
            IdleCommand.self,
            TrackEvalCommand.self,
            TrainCommand.self,
            EvalCommand.self,
            EvalVideoCommand.self,
            MakeShapesCommand.self,
        ])

    static func main() async {
        OpenBLASIdle.reexecIfNeeded()
        await main(nil)
    }
}
