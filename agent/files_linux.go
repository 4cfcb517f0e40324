package agent

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE of sync_file_range(2).
const syncFileRangeWrite = 2

// writeBack has the kernel start writing [off, off+n) of f to disk now,
// without waiting for it. An upload calls it as its file grows, so that the
// disk writes while the network delivers and the final fsync finds little
// left to do, instead of the whole file flushed at its end. It is a hint:
// errors (a filesystem without the call) are ignored, and the fsync that
// commits the file is what makes it durable.
func writeBack(f *os.File, off, n int64) {
	_, _, _ = syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
}
