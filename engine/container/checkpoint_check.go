//go:build !thin

package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/imagestore"
)

// HostFacts are what a checkpoint depends on of the host it was made on;
// the export archive records them so that a target that differs says so
// in one line.
type HostFacts struct {
	Arch          string `json:"arch"`
	Kernel        string `json:"kernel"`
	CRIU          string `json:"criu"`
	Runtime       string `json:"runtime"`
	StorageDriver string `json:"storageDriver"`
	Cgroups       string `json:"cgroups"`
}

// hostFacts describes this host.
func (e *Engine) hostFacts(ctx context.Context, criuVersion int) HostFacts {
	h := HostFacts{Arch: runtime.GOARCH, StorageDriver: e.Store.GraphDriverName(), Cgroups: cgroupMode()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if criuVersion > 0 {
		h.CRIU = criuVersionString(criuVersion)
	}
	if v, err := e.Runtime.Version(ctx); err == nil {
		h.Runtime = firstLine(v)
	}
	return h
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// cgroupMode is v2, v1 or hybrid.
func cgroupMode() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		return "hybrid"
	}
	return "v1"
}

// Check is one preflight check's result.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Warning marks a difference that may work (a check that is not OK
	// but does not stop the checkpoint or restore).
	Warning bool   `json:"warning,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Failed reports whether any check failed (warnings do not count).
func Failed(checks []Check) bool {
	for _, c := range checks {
		if !c.OK && !c.Warning {
			return true
		}
	}
	return false
}

// commonChecks test CRIU, the runtime, the kernel and the storage driver.
func (e *Engine) commonChecks(ctx context.Context) ([]Check, int) {
	var out []Check
	path, v, err := FindCRIU()
	if err != nil {
		out = append(out, Check{Name: "criu", Detail: err.Error(), Fix: "hack/install-deps installs CRIU 4.x (README: Checkpoint and restore)"})
	} else {
		res, cerr := exec.CommandContext(ctx, path, "check").CombinedOutput()
		msg := firstLine(lastLines(string(res)))
		if cerr != nil {
			out = append(out, Check{Name: "criu", Detail: fmt.Sprintf("CRIU %s at %s: criu check: %s", criuVersionString(v), path, msg), Fix: "run 'criu check' as root to see what the kernel lacks"})
		} else {
			out = append(out, Check{Name: "criu", OK: true, Detail: fmt.Sprintf("CRIU %s at %s: %s", criuVersionString(v), path, msg)})
		}
	}
	if rv, err := e.Runtime.Version(ctx); err != nil {
		out = append(out, Check{Name: "runtime", Detail: err.Error(), Fix: "install runc"})
	} else {
		out = append(out, Check{Name: "runtime", OK: true, Detail: e.Runtime.Path + ": " + firstLine(rv)})
	}
	h := e.hostFacts(ctx, v)
	out = append(out, Check{Name: "kernel", OK: true, Detail: h.Kernel + " " + h.Arch + ", cgroups " + h.Cgroups})
	if d := e.Store.GraphDriverName(); d == "overlay" || d == "vfs" {
		out = append(out, Check{Name: "storage", OK: true, Detail: "driver " + d})
	} else {
		out = append(out, Check{Name: "storage", Detail: "driver " + d + " is untested with checkpoints", Warning: true})
	}
	if e.Rootless {
		out = append(out, Check{Name: "privileges", Detail: "rootless containers cannot be checkpointed or restored", Fix: "run the engine as root"})
	}
	return out, v
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// CheckpointCheck is checkpoint --check: whether the container can be
// checkpointed here (CRIU, runtime, kernel, storage, its networks and
// volumes, zombies and exec sessions), without checkpointing it.
func (e *Engine) CheckpointCheck(ctx context.Context, nameOrID string) ([]Check, error) {
	c, err := e.Lookup(nameOrID)
	if err != nil {
		return nil, err
	}
	out, _ := e.commonChecks(ctx)
	if c.State.Status != StatusRunning {
		out = append(out, Check{Name: "container", Detail: fmt.Sprintf("%s is %s, not running", c.Name, c.State.Status), Fix: "engine start " + c.Name})
	} else if c.Terminal {
		out = append(out, Check{Name: "container", Detail: c.Name + " has a terminal (-t), which cannot be checkpointed", Fix: "run it without -t"})
	} else {
		zombies, perr := e.checkProcs(ctx, c)
		switch {
		case perr != nil:
			out = append(out, Check{Name: "processes", Detail: perr.Error()})
		case len(zombies) > 0:
			out = append(out, Check{Name: "processes", OK: true, Detail: fmt.Sprintf("zombies %v are checkpointed as zombies", zombies)})
		default:
			out = append(out, Check{Name: "processes", OK: true, Detail: "no zombies, no exec sessions"})
		}
	}
	out = append(out, e.networkCheck(c.Config))
	out = append(out, volumeCheck(c.Config))
	return out, nil
}

// RestoreCheck is restore --import --check: whether the archive's
// container can be restored here, this host compared with the one the
// checkpoint was made on.
func (e *Engine) RestoreCheck(ctx context.Context, m *CheckpointManifest) []Check {
	out, v := e.commonChecks(ctx)
	out = append(out, compareHosts(m.Host, e.hostFacts(ctx, v))...)
	out = append(out, e.imageCheck(m))
	switch {
	case m.PreCheckpoint:
		out = append(out, Check{Name: "archive", Detail: "a pre-checkpoint of " + m.Config.Name + " (memory only), not a checkpoint", Fix: "restore --import-previous THIS-FILE --import THE-CHECKPOINT-MADE-WITH---with-previous"})
	case m.WithPrevious:
		out = append(out, Check{Name: "archive", OK: true, Detail: "made on a pre-checkpoint: restore needs its archive as --import-previous"})
	}
	out = append(out, e.networkCheck(m.Config))
	out = append(out, volumeCheck(m.Config))
	return out
}

// imageCheck says whether the checkpoint's image is here or can be pulled.
func (e *Engine) imageCheck(m *CheckpointManifest) Check {
	if img, err := e.Store.Image(m.ImageID); err == nil && img.ID == m.ImageID {
		return Check{Name: "image", OK: true, Detail: fmt.Sprintf("%s (%s) is here", m.Image, short(m.ImageID))}
	}
	if m.Image != "" {
		if found, err := imagestore.Lookup(e.Store, m.Image); err == nil {
			return Check{Name: "image", Detail: fmt.Sprintf("image %s here is %s, not %s that the checkpoint was made from", m.Image, short(found.ID), short(m.ImageID)), Fix: "engine rmi " + m.Image + ", then restore (it pulls the image by digest)"}
		}
	}
	if m.ImageArchive != "" {
		return Check{Name: "image", OK: true, Detail: fmt.Sprintf("%s (%s) is not here: restore loads it from the archive", m.Image, short(m.ImageID))}
	}
	if m.Image == "" || strings.HasPrefix(m.Image, "localhost/") || m.ImageDigest == "" {
		return Check{Name: "image", Detail: fmt.Sprintf("image %s (%s) is not here and cannot be pulled", m.Image, short(m.ImageID)), Fix: "engine load or pull it first, or checkpoint with --include-image"}
	}
	return Check{Name: "image", OK: true, Detail: fmt.Sprintf("%s (%s) is not here: restore pulls it by digest %s", m.Image, short(m.ImageID), m.ImageDigest)}
}

// RestoreImportCheck reads a checkpoint archive and runs RestoreCheck.
func (e *Engine) RestoreImportCheck(ctx context.Context, r io.Reader) ([]Check, error) {
	tmp, err := os.MkdirTemp(e.Store.GraphRoot(), "engine-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	m, err := readArchive(r, tmp)
	if err != nil {
		return nil, err
	}
	return e.RestoreCheck(ctx, m), nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// compareHosts lists the differences between the checkpoint's host and
// this one; an architecture change cannot work, the rest may.
func compareHosts(src, dst HostFacts) []Check {
	if src.Arch == "" {
		return []Check{{Name: "source host", OK: true, Warning: true, Detail: "the archive records no host facts (made by an older engine)"}}
	}
	var out []Check
	if src.Arch != dst.Arch {
		out = append(out, Check{Name: "architecture", Detail: fmt.Sprintf("checkpointed on %s, this host is %s", src.Arch, dst.Arch), Fix: "restore on a " + src.Arch + " host"})
	} else {
		out = append(out, Check{Name: "architecture", OK: true, Detail: dst.Arch})
	}
	for _, d := range []struct{ name, a, b string }{
		{"kernel", src.Kernel, dst.Kernel}, {"criu", src.CRIU, dst.CRIU}, {"runtime", src.Runtime, dst.Runtime}, {"cgroups", src.Cgroups, dst.Cgroups},
	} {
		if d.a != d.b {
			out = append(out, Check{Name: d.name + " (source)", Warning: true, Detail: fmt.Sprintf("checkpointed with %q, this host has %q", d.a, d.b)})
		}
	}
	return out
}

// mismatch is the one-line error for a host that cannot restore the
// archive (nil when it can).
func mismatch(src, dst HostFacts) error {
	for _, c := range compareHosts(src, dst) {
		if !c.OK && !c.Warning {
			return fmt.Errorf("cannot restore here: %s: %s", c.Name, c.Detail)
		}
	}
	return nil
}

// networkCheck checks the container's networks exist here.
func (e *Engine) networkCheck(cfg Config) Check {
	if cfg.Network != "bridge" {
		return Check{Name: "network", OK: true, Detail: "mode " + cfg.Network}
	}
	var missing []string
	for _, n := range cfg.Networks {
		if _, err := e.Networks().Get(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return Check{Name: "network", Detail: "networks " + strings.Join(missing, ", ") + " do not exist here", Fix: "engine network create " + missing[0]}
	}
	return Check{Name: "network", OK: true, Detail: "networks " + strings.Join(cfg.Networks, ", ") + " (a new address unless kept)"}
}

// volumeCheck lists the named volumes the container uses.
func volumeCheck(cfg Config) Check {
	var named []string
	for _, m := range cfg.Mounts {
		if m.Type == "volume" && m.Volume != "" && !m.Anonymous {
			named = append(named, m.Volume)
		}
	}
	if len(named) == 0 {
		return Check{Name: "volumes", OK: true, Detail: "none"}
	}
	return Check{Name: "volumes", OK: true, Detail: "named volumes " + strings.Join(named, ", ") + " travel in the archive (unless --ignore-volumes)"}
}
