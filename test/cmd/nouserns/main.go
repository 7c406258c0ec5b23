// Command nouserns runs a command where user namespaces cannot be created:
// a seccomp filter makes clone and unshare with CLONE_NEWUSER fail with
// EPERM (and clone3 with ENOSYS, so callers fall back to clone), as in CI
// containers whose seccomp profile forbids them. The e2e tests use it to
// show that builder --isolation chroot works there.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nouserns COMMAND [ARG...]")
		os.Exit(2)
	}
	runtime.LockOSThread()
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nouserns:", err)
		os.Exit(127)
	}
	if err := install(); err != nil {
		fmt.Fprintln(os.Stderr, "nouserns: installing the seccomp filter:", err)
		os.Exit(1)
	}
	err = unix.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "nouserns:", err)
	os.Exit(126)
}

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

func install() error {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.EPERM)
	enosys := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.ENOSYS)
	prog := []unix.SockFilter{
		stmt(ld, 4), // arch
		jump(jeq, unix.AUDIT_ARCH_X86_64, 1, 0),
		stmt(ret, allow),
		stmt(ld, 0), // syscall number
		jump(jeq, unix.SYS_CLONE3, 0, 1),
		stmt(ret, enosys),
		jump(jeq, unix.SYS_UNSHARE, 1, 0),
		jump(jeq, unix.SYS_CLONE, 0, 3),
		stmt(ld, 16), // flags: the low half of the first argument
		jump(jset, unix.CLONE_NEWUSER, 0, 1),
		stmt(ret, eperm),
		stmt(ret, allow),
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
}
