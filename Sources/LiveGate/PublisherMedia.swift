import MediaPipeline
import RTMPCore
import RTMPServer

/// One publish's frames on its event loop (`IngestEventSink.mediaReceiver`): into the media
/// hub's input for the connection, found once at publish start rather than per frame (a lock
/// and a table lookup each — BENCHMARKS.md, "Performance, second round"), and to the coordinator for
/// the rare frames it needs (`IngestCoordinator.mediaSideEffects`).
final class PublisherMedia: IngestMediaReceiver {
    let input: MediaInput?
    let coordinator: IngestCoordinator

    init(input: MediaInput?, coordinator: IngestCoordinator) {
        self.input = input
        self.coordinator = coordinator
    }

    func media(_ frame: MediaFrame, session: IngestSession) {
        input?.media(frame)
        coordinator.mediaSideEffects(frame, session: session)
    }
}
