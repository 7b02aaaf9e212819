import ChannelStore
import IngestCore

/// The store is the ingest domain's `IngestStore` port (IngestCore owns the port; the adapter
/// conforms here, where both are known, so neither module imports the other).
extension SQLChannelStore: IngestStore {}
