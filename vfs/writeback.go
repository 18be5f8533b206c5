package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackEvery is how much a commit writes before it asks the kernel to
// start writing those pages to disk. The final fsync then waits for the
// tail only, and the disk works while the copy and the digest go on.
const writebackEvery = 8 << 20

// writebackWriter writes sequentially to a temporary file and starts
// asynchronous writeback (sync_file_range, SYNC_FILE_RANGE_WRITE) behind
// itself. It never waits for the disk; durability still comes from the
// fsync before the rename.
type writebackWriter struct {
	f       *os.File
	off     int64 // bytes written
	flushed int64 // bytes handed to writeback
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if w.off-w.flushed >= writebackEvery {
		// Advisory: an error (e.g. a file system without support) only
		// loses the overlap, not data.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}
