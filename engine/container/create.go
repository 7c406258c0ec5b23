package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containers/storage"
	"github.com/containers/storage/pkg/idtools"
	"github.com/containers/storage/pkg/stringid"
	"github.com/containers/storage/pkg/unshare"
	storagetypes "github.com/containers/storage/types"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/engine/monitor"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/userns"
)

// ImageResolver finds (and, by its policy, pulls) the image a container is
// created from; it returns the image's ID and the name it resolved to.
type ImageResolver func(ctx context.Context, name string) (id, resolvedName string, err error)

// CreateOptions are the create/run options that shape the record.
type CreateOptions struct {
	Config
	// Replace removes an existing container of the same name first.
	Replace bool
	// ResolveImage finds the image; nil looks only in local storage.
	ResolveImage ImageResolver
	// StartMonitor is set when the container is started at once (run):
	// Create then launches its conmon before making the storage, so that
	// conmon loads meanwhile; the start that follows in this process uses
	// it (see Engine.launched).
	StartMonitor bool
}

// Create makes the container's storage and record together: both exist or
// neither does.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*Container, error) {
	resolve := o.ResolveImage
	if resolve == nil {
		resolve = func(_ context.Context, name string) (string, string, error) {
			img, err := imagestore.Lookup(e.Store, name)
			if err != nil {
				return "", "", err
			}
			n := img.Name
			if n == "" && len(img.Names) > 0 {
				n = img.Names[0]
			}
			return img.ID, n, nil
		}
	}
	imageID, imageName, err := resolve(ctx, o.Image)
	if err != nil {
		return nil, err
	}
	imgCfg, imgHealth, err := e.imageConfig(ctx, imageID)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	cfg.Version = recordVersion
	cfg.ImageID = imageID
	cfg.ImageName = imageName
	cfg.Created = time.Now().UTC()
	applyImageDefaults(&cfg, imgCfg)
	cfg.Health = resolveHealth(imgHealth, cfg.Health)
	if cfg.LogDriver == "" {
		cfg.LogDriver = e.Settings.LogDriver
	}
	if err := e.resolveNetworks(&cfg, imgCfg); err != nil {
		return nil, err
	}
	if cfg.Restart.Name == "" {
		cfg.Restart.Name = "no"
	}
	if cfg.StopTimeout == 0 && !o.stopTimeoutSet() {
		cfg.StopTimeout = 10
	}
	if e.Rootless && cfg.Resources != nil && !cgroup2Delegated() {
		return nil, errors.New("resource limits (--memory, --cpus, --pids-limit, …) need cgroup v2 with a delegated cgroup for rootless containers; this host has cgroup v1")
	}
	if len(cfg.Entrypoint) == 0 && len(cfg.Command) == 0 {
		return nil, fmt.Errorf("no command or entrypoint given, and image %s has none", o.Image)
	}
	if o.Replace && cfg.Name != "" {
		if old, err := e.Lookup(cfg.Name); err == nil {
			if err := e.Remove(ctx, old.ID, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, ErrNoSuchContainer) {
				return nil, fmt.Errorf("replacing container %s: %w", cfg.Name, err)
			}
		}
	}
	if cfg.Name == "" {
		cfg.Name = randomName()
	}
	for i := range cfg.Mounts {
		if cfg.Mounts[i].Type == "volume" && cfg.Mounts[i].Volume == "" {
			cfg.Mounts[i].Volume = stringid.GenerateRandomID()
			cfg.Mounts[i].Anonymous = true
		}
	}
	id := stringid.GenerateRandomID()
	cfg.ID = id
	idOpts, err := e.idMappings(&cfg)
	if err != nil {
		return nil, err
	}
	// The log goes in the container's directory. Its path is known before
	// the storage exists (the store's layout, checked below), so that the
	// store writes the record once.
	defaultLog := cfg.LogDriver == "k8s-file" && cfg.LogPath == ""
	if defaultLog {
		cfg.LogPath = filepath.Join(e.containerDir(e.Store.GraphRoot(), id), "ctr.log")
	}
	meta, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	// conmon is launched beside the store's work: the fork and exec take
	// this thread only (the store makes the same directories, which either
	// may make first).
	e.spreadContainerDirs()
	var launch chan *monitor.Launched
	if o.StartMonitor {
		launch = make(chan *monitor.Launched, 1)
		early := &Container{Config: cfg}
		go func() { launch <- e.launchEarly(early) }()
	}
	sc, err := e.Store.CreateContainer(id, []string{cfg.Name}, imageID, "", string(meta), &storage.ContainerOptions{
		IDMappingOptions: idOpts,
		// As podman: an --rm container's layer is mounted "volatile" (no
		// sync of its upper directory at unmount) and recorded without
		// fsync; it does not outlive the container's one run.
		Volatile: cfg.AutoRemove,
	})
	var launched *monitor.Launched
	if launch != nil {
		launched = <-launch
	}
	if err != nil {
		if launched != nil {
			launched.Abort()
			e.removeContainerDirs(id)
		}
		if errors.Is(err, storage.ErrDuplicateName) {
			return nil, fmt.Errorf("the container name %q is already in use by another container: %w (remove it or use --replace)", cfg.Name, ErrNameInUse)
		}
		return nil, fmt.Errorf("creating storage for container: %w", err)
	}
	if idOpts.AutoUserNs {
		// The store chose the range: record it for the runtime spec.
		cfg.UIDMap, cfg.GIDMap = toSpec(sc.UIDMap), toSpec(sc.GIDMap)
	}
	ctr := &Container{Config: cfg, State: State{Status: StatusConfigured}}
	undo := func() {
		if launched != nil {
			launched.Abort()
		}
		if err := e.Store.DeleteContainer(id); err != nil {
			logrus.Warnf("removing storage of failed container %s: %v", id, err)
		}
	}
	// The store chose an --userns=auto range: the record is written again.
	rewrite := idOpts.AutoUserNs
	if defaultLog {
		dir, err := e.containerDirectory(id)
		if err != nil {
			undo()
			return nil, err
		}
		if want := filepath.Join(dir, "ctr.log"); ctr.LogPath != want {
			ctr.LogPath = want
			rewrite = true
		}
	}
	if rewrite {
		if err := e.saveConfig(ctr.Config); err != nil {
			undo()
			return nil, err
		}
	}
	// A missing state file reads as configured: a container started at
	// once gets its first one from the start.
	if !o.StartMonitor {
		if err := e.writeState(id, ctr.State); err != nil {
			undo()
			return nil, fmt.Errorf("writing state of container %s: %w", id, err)
		}
	}
	e.event(ctr, "create")
	if launched != nil {
		e.keepLaunched(id, launched)
	}
	return ctr, nil
}

func (o CreateOptions) stopTimeoutSet() bool { return o.StopTimeout != 0 }

// saveConfig rewrites the record (rename, update).
func (e *Engine) saveConfig(cfg Config) error {
	meta, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return e.Store.SetMetadata(cfg.ID, string(meta))
}

// imageConfig reads the OCI config of a local image and, from the same
// read, its HEALTHCHECK (nil when it has none).
func (e *Engine) imageConfig(ctx context.Context, id string) (*v1.Image, *Healthcheck, error) {
	// An image stored by containers/image is named by its config's
	// digest, under which it keeps the config: read it from there, as
	// containers/image itself would (a Docker config decodes into an OCI
	// one, dropping the fields OCI has not), without opening the image.
	if blob, err := e.Store.ImageBigData(id, "sha256:"+id); err == nil && digest.FromBytes(blob).Encoded() == id {
		var cfg v1.Image
		if err := json.Unmarshal(blob, &cfg); err != nil {
			return nil, nil, fmt.Errorf("reading config of image %s: %w", id, err)
		}
		return &cfg, imageHealthcheck(blob), nil
	}
	return e.imageConfigFromImage(ctx, id)
}

// applyImageDefaults fills what the user left unset from the image, as
// podman does: the image's entrypoint unless one was given (then the
// image's cmd is dropped), its cmd, env (the user's win), workdir, user,
// labels and stop signal.
func applyImageDefaults(cfg *Config, img *v1.Image) {
	ic := img.Config
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = ic.Entrypoint
		if len(cfg.Command) == 0 {
			cfg.Command = ic.Cmd
		}
	} else if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil // --entrypoint "" clears it
	}
	cfg.Env = mergeEnv(ic.Env, cfg.Env)
	if !slices.ContainsFunc(cfg.Env, func(s string) bool { return strings.HasPrefix(s, "PATH=") }) {
		cfg.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, cfg.Env...)
	}
	if !slices.ContainsFunc(cfg.Env, func(s string) bool { return strings.HasPrefix(s, "container=") }) {
		cfg.Env = append(cfg.Env, "container=oci")
	}
	if cfg.Terminal && !slices.ContainsFunc(cfg.Env, func(s string) bool { return strings.HasPrefix(s, "TERM=") }) {
		cfg.Env = append(cfg.Env, "TERM=xterm")
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if len(ic.Labels) > 0 {
		labels := maps.Clone(ic.Labels)
		maps.Copy(labels, cfg.Labels)
		cfg.Labels = labels
	}
	if cfg.StopSignal == 0 && ic.StopSignal != "" {
		if sig, err := ParseSignal(ic.StopSignal); err == nil {
			cfg.StopSignal = int(sig)
		}
	}
	for vol := range ic.Volumes {
		if slices.ContainsFunc(cfg.Mounts, func(m Mount) bool { return m.Destination == filepath.Clean(vol) }) {
			continue
		}
		cfg.Mounts = append(cfg.Mounts, Mount{Type: "volume", Destination: filepath.Clean(vol), Anonymous: true})
	}
}

// mergeEnv overlays user variables on the image's.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(s string) bool { n, _, _ := strings.Cut(s, "="); return n == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

var (
	adjectives = []string{"agile", "bold", "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "sharp", "tender", "vivid", "witty", "zealous"}
	nouns      = []string{"babbage", "curie", "darwin", "euler", "fermi", "galois", "hopper", "kepler", "lovelace", "maxwell", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak"}
)

func randomName() string {
	return adjectives[rand.IntN(len(adjectives))] + "_" + nouns[rand.IntN(len(nouns))] + "_" + stringid.GenerateRandomID()[:4]
}

// removeStorage deletes the container's storage (and so its record).
func (e *Engine) removeStorage(id string) error {
	e.forgetDirectory(id)
	// conmon's exit file goes beside the store's work: the caller has
	// read it, and freeing its block may wait for the device.
	exitGone := make(chan struct{})
	go func() {
		defer close(exitGone)
		os.Remove(filepath.Join(e.exitDir(), id))
	}()
	err := e.Store.DeleteContainer(id)
	<-exitGone
	if err != nil && !errors.Is(err, storage.ErrContainerUnknown) {
		return fmt.Errorf("removing storage of container %s: %w", id, err)
	}
	return nil
}

// cgroup2Delegated reports whether /sys/fs/cgroup is a cgroup v2 hierarchy
// (rootless limits need it, delegated to the user).
func cgroup2Delegated() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// idMappings turns --userns, --uidmap and --gidmap into the store's ID
// mapping options, filling cfg.UIDMap and cfg.GIDMap for the runtime.
func (e *Engine) idMappings(cfg *Config) (storagetypes.IDMappingOptions, error) {
	var opts storagetypes.IDMappingOptions
	mode, err := userns.ParseMode(cfg.UserNS)
	if err != nil {
		return opts, err
	}
	if len(cfg.UIDMap) > 0 || len(cfg.GIDMap) > 0 {
		if mode.Name != "" && mode.Name != "host" {
			return opts, fmt.Errorf("--userns %s cannot be combined with --uidmap or --gidmap", cfg.UserNS)
		}
		if len(cfg.GIDMap) == 0 {
			cfg.GIDMap = cfg.UIDMap
		}
		if len(cfg.UIDMap) == 0 {
			cfg.UIDMap = cfg.GIDMap
		}
	} else {
		switch mode.Name {
		case "", "host":
			return opts, nil
		case "auto":
			if !e.Rootless && !subIDRange("/etc/subuid", "containers") {
				return opts, errors.New("--userns auto needs ranges for the user 'containers' in /etc/subuid and /etc/subgid (e.g. containers:2147483647:2147483648)")
			}
			opts.AutoUserNs = true
			opts.AutoUserNsOpts.Size = mode.Size
			return opts, nil
		case "keep-id", "nomap":
			if !e.Rootless {
				return opts, fmt.Errorf("--userns %s is only for rootless users (root has no user of its own to keep)", mode.Name)
			}
			usize, err := userns.NamespaceSize("/proc/self/uid_map")
			if err != nil {
				return opts, err
			}
			gsize, err := userns.NamespaceSize("/proc/self/gid_map")
			if err != nil {
				return opts, err
			}
			if mode.Name == "nomap" {
				cfg.UIDMap, cfg.GIDMap = userns.NoMap(usize), userns.NoMap(gsize)
				break
			}
			uid, gid := mode.UID, mode.GID
			if uid < 0 {
				uid = unshare.GetRootlessUID()
			}
			if gid < 0 {
				gid = unshare.GetRootlessGID()
			}
			if uint32(uid) >= usize || uint32(gid) >= gsize {
				return opts, fmt.Errorf("--userns keep-id: uid %d or gid %d is outside the user namespace (%d IDs)", uid, gid, usize)
			}
			cfg.UIDMap, cfg.GIDMap = userns.KeepID(uid, usize), userns.KeepID(gid, gsize)
			if cfg.User == "" {
				cfg.User = fmt.Sprintf("%d:%d", uid, gid)
			}
		}
	}
	opts.UIDMap, opts.GIDMap = toStorage(cfg.UIDMap), toStorage(cfg.GIDMap)
	return opts, nil
}

func toStorage(m []specs.LinuxIDMapping) []idtools.IDMap {
	out := make([]idtools.IDMap, 0, len(m))
	for _, x := range m {
		out = append(out, idtools.IDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)})
	}
	return out
}

func toSpec(m []idtools.IDMap) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, 0, len(m))
	for _, x := range m {
		out = append(out, specs.LinuxIDMapping{ContainerID: uint32(x.ContainerID), HostID: uint32(x.HostID), Size: uint32(x.Size)})
	}
	return out
}

// subIDRange reports whether file has a range for name.
func subIDRange(file, name string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			return true
		}
	}
	return false
}
