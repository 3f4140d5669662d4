// The Temporal module declares an enum named `Temporal`, which shadows the module name in
// qualified references; these aliases name its types unambiguously for the Daemon.
import Temporal

typealias TrackerVocabulary = Vocabulary
typealias TrackerProposal = Proposal
