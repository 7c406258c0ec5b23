package monitor

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// detachAttr puts conmon in a session of its own. Pdeathsig reaches only
// the first conmon process (a fork does not inherit it), which waits on
// the start pipe and exits once it has forked the long-lived one.
func detachAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// awaitExit returns once process pid (a child, not yet reaped) has exited,
// parked on the runtime's poller (a pidfd) rather than blocked in a wait
// system call. A goroutine blocked in a system call keeps its P: the
// goroutines it made runnable just before (the one waiting for conmon's
// start) would wait for the runtime's monitor to take that P back, some
// milliseconds. It returns at once when the pidfd cannot be had; the
// caller's wait then blocks as before.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	polled := false
	_ = rc.Read(func(uintptr) bool {
		// Called at once, then each time the poller reports the pidfd
		// readable, which it becomes when the process exits.
		done := polled
		polled = true
		return done
	})
}
