// Package userns puts a rootless user's commands in one long-lived user
// and mount namespace, as podman does: the first command creates it (mapped
// from /etc/subuid and /etc/subgid through newuidmap and newgidmap) and
// leaves a pause process holding it; later commands join it before the Go
// runtime starts (join.c). Containers, their monitors and the storage
// mounts live there, so every command sees the same ones.
package userns

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containers/storage/pkg/unshare"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/atomicfile"
)

// envNew marks the child that creates the namespace.
const envNew = "_OCISUITE_NEW_USERNS"

// envExe carries the binary's path into the namespace: in the command
// that creates it (re-executed through /proc/self/exe), reading
// /proc/self/exe gives "/".
const envExe = "_OCISUITE_EXE"

// Executable is the path of the running binary, as the command saw it
// before it entered the user namespace. The variable is inherited by
// whatever runs in the namespace (a shell of builder unshare, the full
// engine the thin one executes), so it counts only when it names this
// very binary.
func Executable() (string, error) {
	if p := os.Getenv(envExe); p != "" {
		a, errA := os.Stat(p)
		b, errB := os.Stat("/proc/self/exe")
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return p, nil
		}
	}
	return os.Executable()
}

// PauseFile is where the pause process's PID is kept (join.c reads the
// same path).
func PauseFile() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "ocisuite-pause.pid")
	}
	return filepath.Join("/tmp", fmt.Sprintf("ocisuite-%d", unshare.GetRootlessUID()), "ocisuite-pause.pid")
}

// Rootless reports whether this process acts for an unprivileged user:
// outside the namespace (euid ≠ 0) or inside it (_CONTAINERS_ROOTLESS_UID).
func Rootless() bool { return os.Geteuid() != 0 || unshare.GetRootlessUID() != 0 }

// Enter makes sure the calling rootless process runs inside the user's
// namespace. Root and processes already inside return at once. Otherwise
// it either re-executes this command so that it joins the existing pause
// process, or creates the namespace, running the command in it; in both
// cases this process exits with the command's status.
func Enter() error {
	if os.Geteuid() == 0 {
		if os.Getenv(envNew) != "" {
			os.Unsetenv(envNew)
			return startPause()
		}
		return nil
	}
	if err := checkSubIDs(); err != nil {
		return err
	}
	pidFile := PauseFile()
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o700); err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	lock, err := os.OpenFile(pidFile+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("rootless: locking %s: %w", lock.Name(), err)
	}
	if pid, ok := pausePID(pidFile); ok {
		// Another command created it meanwhile, or joining failed.
		if os.Getenv("_OCISUITE_JOIN_TRIED") != "" {
			return fmt.Errorf("rootless: cannot join the user namespace of pause process %d (remove %s and stop that process to start afresh)", pid, pidFile)
		}
		lock.Close()
		os.Setenv("_OCISUITE_JOIN_TRIED", "1")
		self, err := Executable()
		if err != nil {
			return err
		}
		os.Setenv(envExe, self)
		return syscall.Exec(self, os.Args, os.Environ())
	}
	logrus.Debugf("rootless: creating the user namespace and its pause process")
	os.Setenv(envNew, "1")
	if self, err := Executable(); err == nil {
		os.Setenv(envExe, self)
	}
	// The child inherits the lock and releases it once the pause process
	// is recorded; this process waits for the command and exits with it.
	unshare.MaybeReexecUsingUserNamespace(false)
	return errors.New("rootless: could not enter a user namespace")
}

// startPause runs in the new namespace: a pause process keeps it alive.
func startPause() error {
	cmd := exec.Command(pauseBinary(), "-P")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rootless: starting the pause process: %w", err)
	}
	pidFile := PauseFile()
	if err := atomicfile.Write(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		cmd.Process.Kill()
		return fmt.Errorf("rootless: recording the pause process: %w", err)
	}
	cmd.Process.Release()
	// Release the creation lock inherited from the parent.
	for fd := 3; fd < 64; fd++ {
		if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && p == pidFile+".lock" {
			syscall.Flock(fd, syscall.LOCK_UN)
		}
	}
	return nil
}

func pauseBinary() string {
	if p, err := exec.LookPath("catatonit"); err == nil {
		return p
	}
	return "/usr/libexec/podman/catatonit"
}

func pausePID(pidFile string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return pid, true
}

// checkSubIDs gives the exact fix when the user has no subordinate IDs.
func checkSubIDs() error {
	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("rootless: who am I: %w", err)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if !hasRange(f, u.Username, u.Uid) {
			flag := "--add-subuids"
			if f == "/etc/subgid" {
				flag = "--add-subgids"
			}
			return fmt.Errorf("rootless: user %s has no range in %s: as root, run 'usermod %s 100000-165535 %s'", u.Username, f, flag, u.Username)
		}
	}
	for _, b := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("rootless: %s not found: install the uidmap package", b)
		}
	}
	return nil
}

func hasRange(file, name, uid string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) == 3 && (parts[0] == name || parts[0] == uid) {
			if n, err := strconv.Atoi(parts[2]); err == nil && n > 0 {
				return true
			}
		}
	}
	return false
}
