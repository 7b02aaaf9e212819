internal import CFileOps
import Foundation

/// A live media playlist's file, replaced after every segment so that a player never reads half
/// of one (docs/architecture.md "Output threads").
///
/// The usual way — a new temporary file renamed over the playlist — frees the old playlist's
/// inode each time, and ext4 (`auto_da_alloc`) forces the new file's blocks to be allocated and
/// written before such a rename: at 200 HLS streams that was a fifth of the output threads'
/// time (eviction, block freeing, discards, writeback). Here the new text is written over a
/// spare file kept beside the playlist (`index.m3u8.tmp`, not served), which then trades names
/// with the playlist (`renameat2` `RENAME_EXCHANGE`): the old playlist becomes the next spare.
/// No inode is created or freed, and a playlist rewritten every two seconds is usually
/// overwritten in the page cache before it is ever written back. A reader that opened the
/// playlist just before a swap reads the old text; the spare is not written again until the
/// next segment, a segment's length later.
///
/// Where the file system cannot swap names (EINVAL, ENOSYS), it falls back to the rename.
final class PlaylistFile {
    let path: String
    let sparePath: String
    private var canExchange = true

    init(path: String) {
        self.path = path
        sparePath = path + ".tmp"
    }

    func write(_ text: String) throws(AVFailure) {
        let fd = open(sparePath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o666)
        if fd < 0 { throw AVFailure.posix("open \(sparePath)") }
        var text = text
        let failure: AVFailure? = text.withUTF8 { utf8 in
            var done = 0
            while done < utf8.count {
                let n = pwrite(fd, utf8.baseAddress! + done, utf8.count - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    return AVFailure.posix("write \(sparePath)")
                }
                done += n
            }
            // Shortened to the new text, never to zero (ext4 treats truncating to zero like the
            // rename above: it forces the blocks out at close).
            return ftruncate(fd, off_t(utf8.count)) == 0 ? nil : AVFailure.posix("truncate \(sparePath)")
        }
        close(fd)
        if let failure { throw failure }
        if canExchange {
            if livegate_rename_exchange(sparePath, path) == 0 { return }
            switch errno {
            case ENOENT: break // no playlist yet (the first segment), or removed: renamed below
            case EINVAL, ENOSYS, ENOTSUP: canExchange = false
            default: throw AVFailure.posix("exchange \(sparePath) and \(path)")
            }
        }
        if rename(sparePath, path) != 0 { throw AVFailure.posix("rename \(sparePath)") }
    }

    /// Removes the spare (the session is over); the playlist stays.
    func removeSpare() { unlink(sparePath) }
}
