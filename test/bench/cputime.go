package bench

import (
	"syscall"
	"unsafe"
)

// ProcessCPU is the CPU time of the whole process (every thread: the
// measured goroutine, GC workers, the runtime), in ns, from
// clock_gettime(CLOCK_PROCESS_CPUTIME_ID). Unlike wall time it does not
// count the time other programs on a shared machine take the CPU away.
func ProcessCPU() int64 {
	const clockProcessCPUTimeID = 2
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return ts.Nano()
}
