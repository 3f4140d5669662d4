// Recognizer and Temporal both declare a `Vocabulary` (the class names to embed vs the
// embeddings the trackers score with); the Daemon imports both, so the trackers' types
// go by these names in the pipeline.
import Temporal

typealias TrackerVocabulary = Temporal.Vocabulary
typealias TrackerProposal = Temporal.Proposal
