// `regionspotd keygen NAME`: a CURVE keypair (zmq_curve_keypair) as NAME.key (the secret,
// mode 0600, never overwritten) and NAME.pub (the public key, to copy to the peers).
// Prints the file names, never a key.
import ArgumentParser
import Foundation

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE keypair: NAME.key (secret, mode 0600) and NAME.pub (public).")

    @Argument(help: "Path and base name of the two files, e.g. /etc/regionspotd/keys/edge1.") var name: String

    func run() throws {
        do {
            let (secret, pub) = try Curve.writeKeypair(base: name)
            print("secret key: \(secret) (mode 0600; security.curve.secret_key of this host)")
            print("public key: \(pub) (copy into the peers' authorized_keys directory, or as their server_key)")
        } catch {
            FileHandle.standardError.write(Data("regionspotd keygen: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
