package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// deniedSyscalls are refused with EPERM by the default profile unless the
// container holds the capability that makes them legitimate (as in the
// docker/podman default profile, whose effect on these calls it mirrors).
var deniedSyscalls = []struct {
	names []string
	cap   string // "" = always denied
}{
	{[]string{"acct"}, "CAP_SYS_PACCT"},
	{[]string{"add_key", "keyctl", "request_key"}, ""},
	{[]string{"bpf", "perf_event_open", "lookup_dcookie", "fanotify_init", "quotactl", "quotactl_fd",
		"mount", "umount", "umount2", "unshare", "setns", "pivot_root", "name_to_handle_at",
		"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "syslog", "sethostname", "setdomainname"}, "CAP_SYS_ADMIN"},
	{[]string{"clock_adjtime", "clock_settime", "clock_settime64", "settimeofday", "stime", "adjtimex"}, "CAP_SYS_TIME"},
	{[]string{"create_module", "delete_module", "finit_module", "init_module", "get_kernel_syms", "query_module"}, "CAP_SYS_MODULE"},
	{[]string{"get_mempolicy", "mbind", "set_mempolicy", "move_pages", "migrate_pages"}, "CAP_SYS_NICE"},
	{[]string{"ioperm", "iopl"}, "CAP_SYS_RAWIO"},
	{[]string{"kcmp", "process_vm_readv", "process_vm_writev", "ptrace", "pidfd_getfd"}, "CAP_SYS_PTRACE"},
	{[]string{"kexec_file_load", "kexec_load", "reboot"}, "CAP_SYS_BOOT"},
	{[]string{"nfsservctl", "sysfs", "_sysctl", "uselib", "ustat", "vm86", "vm86old", "userfaultfd", "swapon", "swapoff"}, "CAP_SYS_ADMIN"},
	{[]string{"open_by_handle_at"}, "CAP_DAC_READ_SEARCH"},
}

// DefaultSeccomp is the default profile for a container holding caps.
func DefaultSeccomp(caps []string) *specs.LinuxSeccomp {
	eperm := uint(1) // EPERM
	prof := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: nativeArchs(),
	}
	var names []string
	for _, d := range deniedSyscalls {
		if d.cap != "" && slices.Contains(caps, d.cap) {
			continue
		}
		names = append(names, d.names...)
	}
	if len(names) > 0 {
		prof.Syscalls = []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm}}
	}
	return prof
}

// LoadSeccomp reads a profile in the OCI (or docker/podman JSON) format.
func LoadSeccomp(path string) (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile: %w", err)
	}
	var raw struct {
		specs.LinuxSeccomp
		// The docker/podman format names architectures in a map.
		ArchMap []struct {
			Arch string `json:"architecture"`
		} `json:"archMap"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	prof := raw.LinuxSeccomp
	if prof.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile %s: no defaultAction", path)
	}
	if len(prof.Architectures) == 0 {
		prof.Architectures = nativeArchs()
	}
	return &prof, nil
}

func nativeArchs() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	default:
		return nil
	}
}
