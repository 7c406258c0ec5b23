package monitor

import "syscall"

// detachAttr puts conmon in a session of its own. Pdeathsig reaches only
// the first conmon process (a fork does not inherit it), which waits on
// the start pipe and exits once it has forked the long-lived one.
func detachAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}
