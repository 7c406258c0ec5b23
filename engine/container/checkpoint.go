//go:build !thin

package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	criu "github.com/checkpoint-restore/go-criu/v7"
	"github.com/checkpoint-restore/go-criu/v7/stats"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/monitor"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/oci"
)

// MinCRIU is the oldest CRIU the engine uses (major*10000+minor*100+sub):
// 3.x fails on current kernels ("Unexpected rt vDSO area bounds").
const MinCRIU = 40000

// ErrCRIU is a missing or too old CRIU.
var ErrCRIU = errors.New("CRIU 4.0 or newer is needed")

// FindCRIU returns the criu binary and its version, or ErrCRIU saying what
// was found.
func FindCRIU() (string, int, error) {
	path, err := exec.LookPath("criu")
	if err != nil {
		for _, p := range []string{"/usr/local/sbin/criu", "/usr/sbin/criu"} {
			if _, serr := os.Stat(p); serr == nil {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("%w (found none: criu is not installed; hack/install-deps installs it)", ErrCRIU)
	}
	c := criu.MakeCriu()
	c.SetCriuPath(path)
	v, err := c.GetCriuVersion()
	if err != nil {
		// Not answering RPC: what it says of itself.
		if v = criuVersionFlag(path); v == 0 {
			return "", 0, fmt.Errorf("%w (found %s, which does not answer: %v)", ErrCRIU, path, err)
		}
	}
	if v < MinCRIU {
		return "", 0, fmt.Errorf("%w (found %s at %s)", ErrCRIU, criuVersionString(v), path)
	}
	noBreakpoints()
	return path, v, nil
}

// criuVersionFlag parses "criu --version" ("Version: 4.1.1"); 0 if it
// cannot.
func criuVersionFlag(path string) int {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(out), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "Version:")
		if !ok {
			continue
		}
		var major, minor, sub int
		if n, _ := fmt.Sscanf(strings.TrimSpace(v), "%d.%d.%d", &major, &minor, &sub); n >= 2 {
			return major*10000 + minor*100 + sub
		}
	}
	return 0
}

func criuVersionString(v int) string {
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// noBreakpoints makes CRIU stop the tasks it infects by tracing their
// system calls instead of with hardware breakpoints, which some virtual
// machines never deliver: there CRIU waits forever for the parasite to
// return ("Sent msg to daemon 3 0 0", then nothing). CRIU_FAULT=130 is
// CRIU's own switch for it (FI_NO_BREAKPOINTS); runc and conmon pass the
// environment on to criu. A CRIU_FAULT already set is left alone.
func noBreakpoints() {
	if _, ok := os.LookupEnv("CRIU_FAULT"); !ok {
		os.Setenv("CRIU_FAULT", "130")
	}
}

// checkpointDir holds a container's CRIU images, in its storage directory.
func (e *Engine) checkpointDir(id string) (string, error) {
	d, err := e.Store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "checkpoint"), nil
}

// preCheckpointDir holds a container's pre-checkpoint (memory only).
func (e *Engine) preCheckpointDir(id string) (string, error) {
	d, err := e.Store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "pre-checkpoint"), nil
}

// memoryTracking checks that CRIU can track memory changes, which
// pre-checkpoints need; the error says what is missing.
func memoryTracking(ctx context.Context, criuPath string) error {
	out, err := exec.CommandContext(ctx, criuPath, "check", "--feature", "mem_dirty_track").CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		msg = msg[i+3:]
	}
	return fmt.Errorf("--pre-checkpoint and --with-previous need the kernel's memory change tracking (soft-dirty, CONFIG_MEM_SOFT_DIRTY), which this host lacks (criu check --feature mem_dirty_track: %s): checkpoint without them", msg)
}

// preCheckpoint dumps the container's memory and leaves it running.
func (e *Engine) preCheckpoint(ctx context.Context, c *Container, criuPath string, o CheckpointOptions) (*CheckpointResult, error) {
	pre, err := e.preCheckpointDir(c.ID)
	if err != nil {
		return nil, err
	}
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(pre); err != nil {
		return nil, err
	}
	start := time.Now()
	err = e.Runtime.Checkpoint(ctx, c.ID, oci.CheckpointOptions{ImagePath: pre, WorkPath: bundle, PreDump: true, CRIU: criuPath})
	if err != nil {
		os.RemoveAll(pre)
		return nil, fmt.Errorf("pre-checkpointing %s: %w", c.Name, err)
	}
	if o.Export != "" {
		if err := e.exportPreCheckpoint(c, pre, o); err != nil {
			return nil, err
		}
	}
	e.event(c, "checkpoint")
	return &CheckpointResult{ID: c.ID, Name: c.Name, RuntimeDuration: time.Since(start).Microseconds()}, nil
}

func hasImages(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "inventory.img"))
	return err == nil
}

// CheckpointOptions are checkpoint's options.
type CheckpointOptions struct {
	LeaveRunning   bool
	Keep           bool // keep CRIU's log and the work files
	TCPEstablished bool
	FileLocks      bool
	// Export writes the checkpoint as one archive at this path.
	Export   string
	Compress string // "zstd" (default), "gzip" or "none"
	// CreateImage stores the export archive as a one-layer checkpoint
	// image under this name.
	CreateImage string
	// IgnoreRootfs leaves the root filesystem changes out of the export;
	// IgnoreVolumes leaves out the named volumes' content.
	IgnoreRootfs  bool
	IgnoreVolumes bool
	// PreCheckpoint dumps only the memory, leaving the container running,
	// so that a later checkpoint WithPrevious copies only what changed
	// since and the container is frozen for less time. Both need the
	// kernel's memory change tracking (soft-dirty bits).
	PreCheckpoint, WithPrevious bool
	// IncludeImage puts the base image into the archive (Export,
	// CreateImage, migrate) for targets with no registry.
	IncludeImage bool

	// stream receives the archive instead of a file (migrate), written
	// with Compress; configure rewrites the configuration it carries.
	stream    io.Writer
	configure func(*Container) Config
	// streamed is called once the archive is written to stream.
	streamed func(error)
	// pageServer (ADDRESS:PORT) makes a lazy-pages dump (migrate
	// --lazy-pages): the memory stays out of the images and CRIU's page
	// server there serves it to the target's restore --lazy-pages-from.
	pageServer string
	// imageFile is the base image saved for IncludeImage
	// (checkpoint_embed.go).
	imageFile string
}

// CheckpointResult is what one checkpoint did.
type CheckpointResult struct {
	ID   string `json:"Id"`
	Name string `json:"-"`
	// RuntimeDuration is how long runc checkpoint took, in microseconds.
	RuntimeDuration int64                 `json:"runtime_checkpoint_duration"`
	Stats           *stats.DumpStatsEntry `json:"criu_statistics,omitempty"`
	// Zombies are the container's zombie processes (host PIDs) at the
	// dump, which CRIU checkpoints and restores as zombies.
	Zombies []int `json:"zombies,omitempty"`
}

// Checkpoint dumps a running container with CRIU into its storage
// directory. Unless LeaveRunning, the container is then exited and marked
// checkpointed, waiting for Restore; with Export the checkpoint is also
// written as one archive.
func (e *Engine) Checkpoint(ctx context.Context, id string, o CheckpointOptions) (*CheckpointResult, error) {
	if _, err := archiveCompression(o.Compress); err != nil {
		return nil, err
	}
	criuPath, _, err := FindCRIU()
	if err != nil {
		return nil, err
	}
	c, unlock, err := e.acquireOp(ctx, id, "checkpoint")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if e.Rootless {
		return nil, errors.New("checkpoint needs root: rootless containers cannot be checkpointed yet")
	}
	if c.State.Status != StatusRunning {
		return nil, fmt.Errorf("container %s is %s, only running containers can be checkpointed: %w", c.Name, c.State.Status, ErrInvalidState)
	}
	if c.Terminal {
		return nil, fmt.Errorf("container %s has a terminal (-t), which cannot be checkpointed yet", c.Name)
	}
	if c.AutoRemove && !o.LeaveRunning && o.Export == "" {
		return nil, fmt.Errorf("container %s was started with --rm, it would be removed by the checkpoint: use --export or --leave-running", c.Name)
	}
	if o.PreCheckpoint || o.WithPrevious {
		if err := memoryTracking(ctx, criuPath); err != nil {
			return nil, err
		}
	}
	if o.PreCheckpoint {
		return e.preCheckpoint(ctx, c, criuPath, o)
	}
	zombies, err := e.checkProcs(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(zombies) > 0 {
		logrus.Infof("container %s has zombie processes %v, which are checkpointed as zombies", c.Name, zombies)
	}
	imgDir, err := e.checkpointDir(c.ID)
	if err != nil {
		return nil, err
	}
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(imgDir); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(bundle, "dump.log"))
	// The base image is saved before the dump: not while the container
	// is frozen.
	cleanupImage, err := e.saveIncludedImage(ctx, c, &o)
	if err != nil {
		return nil, err
	}
	defer cleanupImage()
	if !o.LeaveRunning {
		// The exit command that follows the dump must not restart it.
		c.State.StoppedByUser = true
		if err := e.writeState(c.ID, c.State); err != nil {
			return nil, err
		}
	}
	parent := ""
	if o.WithPrevious {
		pre, err := e.preCheckpointDir(c.ID)
		if err != nil {
			return nil, err
		}
		if !hasImages(pre) {
			return nil, fmt.Errorf("container %s has no pre-checkpoint: run checkpoint --pre-checkpoint first", c.Name)
		}
		parent = "../" + filepath.Base(pre)
	}
	start := time.Now()
	var streamErr error
	streamed := false
	stream := func() {
		// The stream goes first: the target restores while this side
		// cleans up.
		comp, _ := archiveCompression(o.Compress)
		streamErr = e.writeArchive(c, imgDir, o.stream, comp, o)
		streamed = true
		if o.streamed != nil {
			o.streamed(streamErr)
		}
	}
	// With lazy pages the dump returns only once the target has fetched
	// the memory: the archive (all but the memory) streams meanwhile.
	ready := make(chan struct{})
	dumped := make(chan error, 1)
	go func() {
		dumped <- e.Runtime.Checkpoint(ctx, c.ID, oci.CheckpointOptions{
			ImagePath:      imgDir,
			WorkPath:       bundle,
			LeaveRunning:   o.LeaveRunning,
			TCPEstablished: o.TCPEstablished,
			FileLocks:      o.FileLocks,
			ParentPath:     parent,
			CRIU:           criuPath,
			LazyPages:      o.pageServer != "",
			PageServer:     o.pageServer,
			Ready:          func() { close(ready) },
		})
	}()
	select {
	case err = <-dumped:
	case <-ready:
		stream()
		err = <-dumped
	}
	res := &CheckpointResult{ID: c.ID, Name: c.Name, RuntimeDuration: time.Since(start).Microseconds(), Zombies: zombies}
	if err != nil {
		// CRIU leaves a failed dump's tree running; so does the record.
		os.RemoveAll(imgDir)
		if !o.LeaveRunning {
			c.State.StoppedByUser = false
			_ = e.writeState(c.ID, c.State)
		}
		if streamErr != nil {
			err = fmt.Errorf("%w (streaming the checkpoint: %v)", err, streamErr)
		}
		return nil, e.socketError(ctx, c, err)
	}
	res.Stats = dumpStats(bundle, imgDir) // CRIU writes them in its work directory
	if o.stream != nil && !streamed {
		stream()
	}
	if !o.LeaveRunning {
		if !e.waitExit(ctx, c, 10*time.Second) {
			logrus.Warnf("container %s still runs after its checkpoint", c.Name)
		}
		e.finish(ctx, c)
		c.State.Checkpointed = true
		if err := e.writeState(c.ID, c.State); err != nil {
			return nil, err
		}
	}
	e.event(c, "checkpoint")
	if o.Export != "" {
		if err := e.exportCheckpoint(c, imgDir, o.Export, o); err != nil {
			return nil, err
		}
	}
	if streamErr != nil {
		return res, fmt.Errorf("streaming the checkpoint: %w", streamErr)
	}
	if o.CreateImage != "" {
		tmp, err := os.MkdirTemp(filepath.Dir(imgDir), "checkpoint-image-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		p := filepath.Join(tmp, checkpointImageArchive)
		if err := e.exportCheckpoint(c, imgDir, p, o); err != nil {
			return nil, err
		}
		if _, err := e.createCheckpointImage(ctx, c, p, o.CreateImage); err != nil {
			return nil, err
		}
	}
	if !o.Keep {
		os.Remove(filepath.Join(bundle, "dump.log"))
		os.Remove(filepath.Join(bundle, "stats-dump"))
	}
	return res, nil
}

func dumpStats(dirs ...string) *stats.DumpStatsEntry {
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		s, err := stats.CriuGetDumpStats(d)
		d.Close()
		if err == nil {
			return s
		}
		logrus.Debugf("reading CRIU's dump statistics in %s: %v", dir, err)
	}
	return nil
}

func restoreStats(dirs ...string) *stats.RestoreStatsEntry {
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		s, err := stats.CriuGetRestoreStats(d)
		d.Close()
		if err == nil {
			return s
		}
		logrus.Debugf("reading CRIU's restore statistics in %s: %v", dir, err)
	}
	return nil
}

// RestoreOptions are restore's options.
type RestoreOptions struct {
	Keep           bool // keep the CRIU images and log after restoring
	TCPEstablished bool
	FileLocks      bool
	// Name is the new container's name for an import ("" = the archive's).
	Name string
	// IgnoreRootfs does not apply an import's root filesystem changes;
	// IgnoreVolumes does not fill its named volumes from the archive.
	IgnoreRootfs  bool
	IgnoreVolumes bool
	// Publish replaces an import's published ports (nil keeps them).
	Publish []network.PortMapping
	// IgnoreStaticIP and IgnoreStaticMAC drop an import's --network
	// ip=/ip6= and mac= settings, so the copy gets new ones.
	IgnoreStaticIP, IgnoreStaticMAC bool
	// LazyPagesFrom (ADDRESS:PORT) restores a lazy-pages checkpoint: the
	// memory is faulted in from the source's CRIU page server there
	// (lazypages.go), after the container runs.
	LazyPagesFrom string
	// ImportPrevious is the pre-checkpoint archive (checkpoint
	// --pre-checkpoint --export) an import's checkpoint was made on top of.
	ImportPrevious string
}

// RestoreResult is what one restore did.
type RestoreResult struct {
	ID   string `json:"Id"`
	Name string `json:"-"`
	// RuntimeDuration is how long the restore under conmon took, in
	// microseconds.
	RuntimeDuration int64                    `json:"runtime_restore_duration"`
	Stats           *stats.RestoreStatsEntry `json:"criu_statistics,omitempty"`
}

// Restore brings a checkpointed container back from its CRIU images,
// under a new conmon, running.
func (e *Engine) Restore(ctx context.Context, id string, o RestoreOptions) (*RestoreResult, error) {
	criuPath, _, err := FindCRIU()
	if err != nil {
		return nil, err
	}
	if o.IgnoreRootfs || o.IgnoreVolumes {
		return nil, errors.New("--ignore-rootfs and --ignore-volumes apply to --import or a checkpoint image: a container restored in place keeps its own")
	}
	if o.ImportPrevious != "" {
		return nil, errors.New("--import-previous needs --import")
	}
	c, unlock, err := e.acquireOp(ctx, id, "restore")
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.restore(ctx, c, criuPath, o)
}

// restore does Restore's work under the container's operation marker.
func (e *Engine) restore(ctx context.Context, c *Container, criuPath string, o RestoreOptions) (*RestoreResult, error) {
	if e.Rootless {
		return nil, errors.New("restore needs root: rootless containers cannot be restored yet")
	}
	imgDir, err := e.checkpointDir(c.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Running() || c.State.Status == StatusCreated:
		return nil, fmt.Errorf("container %s is %s, only a checkpointed container can be restored: %w", c.Name, c.State.Status, ErrInvalidState)
	case !hasImages(imgDir):
		return nil, fmt.Errorf("container %s has no checkpoint to restore (checkpoint it first): %w", c.Name, ErrInvalidState)
	}
	if e.Runtime.Known(c.ID) {
		_ = e.Runtime.Delete(ctx, c.ID, true)
	}
	os.Remove(filepath.Join(e.exitDir(), c.ID))
	mountpoint, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return nil, fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			hideRootfs(c.ID)
			if _, err := e.Store.Unmount(c.ID, true); err != nil {
				logrus.Warnf("unmounting %s: %v", c.ID, err)
			}
		}
	}()
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return nil, err
	}
	rootfs := mountpoint
	if len(c.UIDMap) > 0 {
		if rootfs, err = exposeRootfs(c.ID, mountpoint); err != nil {
			return nil, err
		}
	}
	// A bridge container is restored into a new network namespace (network.go).
	if err := e.setupNetwork(ctx, c); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			e.teardownNetwork(ctx, c)
		}
	}()
	spec, err := e.buildSpec(c, rootfs, bundle)
	if err != nil {
		return nil, err
	}
	if err := oci.WriteBundle(bundle, spec); err != nil {
		return nil, fmt.Errorf("writing the bundle of %s: %w", c.Name, err)
	}
	restoreLog := filepath.Join(bundle, "restore.log")
	os.Remove(restoreLog)
	ro := oci.RestoreOptions{TCPEstablished: o.TCPEstablished, FileLocks: o.FileLocks, LazyPages: o.LazyPagesFrom != ""}
	if ro.LazyPages {
		stop, err := startLazyPages(ctx, criuPath, imgDir, bundle, o.LazyPagesFrom)
		if err != nil {
			return nil, fmt.Errorf("restoring %s: %w", c.Name, err)
		}
		defer func() {
			if !ok {
				stop()
			}
		}()
	}
	// The published ports are held by conmon, as for a start.
	held, err := holdPorts(c)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	start := time.Now()
	mo := e.monitorOptions(c, bundle, held)
	mo.RuntimeArgs = append(mo.RuntimeArgs, "--criu", criuPath)
	mo.Terminal = false // checkpoints of containers with a terminal are refused
	mo.Restore = imgDir
	mo.RuntimeOpts = ro.RestoreArgs()
	started, err := monitor.Start(ctx, mo, [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		ce := &oci.CRIUError{Op: "restore", ID: c.Name, Message: err.Error()}
		if lines := oci.CRIULogErrors(restoreLog, 3); lines != nil {
			ce.Lines = lines
		}
		if _, serr := os.Stat(restoreLog); serr == nil {
			ce.Log = restoreLog
		}
		return nil, ce
	}
	res := &RestoreResult{ID: c.ID, Name: c.Name, RuntimeDuration: time.Since(start).Microseconds(), Stats: restoreStats(bundle, imgDir)}
	ok = true
	c.State = State{
		Status:       StatusRunning,
		Pid:          started.Pid,
		ConmonPid:    started.ConmonPid,
		BootID:       bootID(),
		Mountpoint:   mountpoint,
		StartedAt:    time.Now().UTC(),
		RestartCount: c.State.RestartCount,
		Net:          c.State.Net,
	}
	if c.HealthEnabled() {
		c.State.Health = &Health{Status: HealthStarting}
	}
	if err := e.writeState(c.ID, c.State); err != nil {
		return nil, err
	}
	e.event(c, "restore")
	e.startHealthTimer(c)
	if !o.Keep {
		if err := os.RemoveAll(imgDir); err != nil {
			logrus.Warnf("removing the checkpoint of %s: %v", c.Name, err)
		}
		os.Remove(restoreLog)
		os.Remove(filepath.Join(bundle, "stats-restore"))
	}
	return res, nil
}
