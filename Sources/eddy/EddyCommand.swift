import ArgumentParser

@main
struct EddyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eddy",
        abstract: "A realtime resource server: JSON resources over HTTP, and every way to watch them change.",
        version: EddyVersion.current,
        subcommands: [
            ServeCommand.self, WatchCommand.self, GetCommand.self, PutCommand.self, PatchCommand.self, PostCommand.self,
            DeleteCommand.self, TokenCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
}
