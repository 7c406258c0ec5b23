package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// InspectData is podman's container inspect shape, for the fields users
// script against.
type InspectData struct {
	ID           string       `json:"Id"`
	Created      time.Time    `json:"Created"`
	Path         string       `json:"Path"`
	Args         []string     `json:"Args"`
	State        InspectState `json:"State"`
	Image        string       `json:"Image"`
	ImageName    string       `json:"ImageName"`
	Rootfs       string       `json:"Rootfs"`
	Name         string       `json:"Name"`
	RestartCount int          `json:"RestartCount"`
	Driver       string       `json:"Driver"`
	OCIRuntime   string       `json:"OCIRuntime"`
	LogPath      string       `json:"LogPath"`
	// The container's files: the bundle's (run root) once it has
	// started, the record's directory (graph root).
	ConmonPidFile  string             `json:"ConmonPidFile"`
	PidFile        string             `json:"PidFile"`
	OCIConfigPath  string             `json:"OCIConfigPath,omitempty"`
	HostsPath      string             `json:"HostsPath"`
	ResolvConfPath string             `json:"ResolvConfPath"`
	HostnamePath   string             `json:"HostnamePath"`
	StaticDir      string             `json:"StaticDir"`
	GraphDriver    InspectGraphDriver `json:"GraphDriver"`
	Mounts         []InspectMount     `json:"Mounts"`
	Config         InspectConfig      `json:"Config"`
	HostConfig     InspectHostConfig  `json:"HostConfig"`
	IsInfra        bool               `json:"IsInfra"`
	// NetworkSettings: engine/container/network.go.
	NetworkSettings InspectNetworkSettings `json:"NetworkSettings"`
}

// Id is ID under docker's name, so that docker's `inspect --format
// '{{.Id}}'` works as well as podman's `{{.ID}}`.
func (d InspectData) Id() string { return d.ID } //nolint:revive // docker's spelling

// InspectState is State in podman's shape.
type InspectState struct {
	OciVersion string    `json:"OciVersion"`
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ConmonPid  int       `json:"ConmonPid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is there with an empty status for a container without a
	// healthcheck, as in podman.
	Health *Health `json:"Health"`
}

// InspectGraphDriver is GraphDriver: the storage driver and the
// directories of the container's layer.
type InspectGraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// InspectMount is one of Mounts.
type InspectMount struct {
	Type        string   `json:"Type"`
	Name        string   `json:"Name,omitempty"`
	Source      string   `json:"Source"`
	Destination string   `json:"Destination"`
	Driver      string   `json:"Driver"`
	Mode        string   `json:"Mode"`
	Options     []string `json:"Options"`
	RW          bool     `json:"RW"`
	Propagation string   `json:"Propagation"`
}

// InspectConfig is Config.
type InspectConfig struct {
	Hostname    string            `json:"Hostname"`
	User        string            `json:"User"`
	Env         []string          `json:"Env"`
	Cmd         []string          `json:"Cmd"`
	Image       string            `json:"Image"`
	WorkingDir  string            `json:"WorkingDir"`
	Entrypoint  []string          `json:"Entrypoint"`
	Labels      map[string]string `json:"Labels"`
	Annotations map[string]string `json:"Annotations"`
	StopSignal  int               `json:"StopSignal"`
	StopTimeout uint              `json:"StopTimeout"`
	Tty         bool              `json:"Tty"`
	OpenStdin   bool              `json:"OpenStdin"`
	Timezone    string            `json:"Timezone,omitempty"`
	Healthcheck *Healthcheck      `json:"Healthcheck,omitempty"`
}

// InspectHostConfig is HostConfig.
type InspectHostConfig struct {
	RestartPolicy  InspectRestart               `json:"RestartPolicy"`
	PortBindings   map[string][]InspectHostPort `json:"PortBindings"`
	AutoRemove     bool                         `json:"AutoRemove"`
	NetworkMode    string                       `json:"NetworkMode"`
	Privileged     bool                         `json:"Privileged"`
	ReadonlyRootfs bool                         `json:"ReadonlyRootfs"`
	CapAdd         []string                     `json:"CapAdd"`
	CapDrop        []string                     `json:"CapDrop"`
	SecurityOpt    []string                     `json:"SecurityOpt"`
	Memory         int64                        `json:"Memory"`
	MemorySwap     int64                        `json:"MemorySwap"`
	NanoCpus       int64                        `json:"NanoCpus"`
	CPUShares      uint64                       `json:"CpuShares"`
	CpusetCpus     string                       `json:"CpusetCpus"`
	PidsLimit      int64                        `json:"PidsLimit"`
	Ulimits        []InspectUlimit              `json:"Ulimits"`
	LogConfig      InspectLog                   `json:"LogConfig"`
	Init           bool                         `json:"Init"`
	Binds          []string                     `json:"Binds"`
	Tmpfs          map[string]string            `json:"Tmpfs"`
	ShmSize        int64                        `json:"ShmSize"`
}

// InspectRestart is HostConfig.RestartPolicy.
type InspectRestart struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// InspectUlimit is one of HostConfig.Ulimits.
type InspectUlimit struct {
	Name string `json:"Name"`
	Soft uint64 `json:"Soft"`
	Hard uint64 `json:"Hard"`
}

// InspectLog is HostConfig.LogConfig.
type InspectLog struct {
	Type string `json:"Type"`
	Path string `json:"Path"`
}

// Inspect describes a container.
func (e *Engine) Inspect(c *Container) InspectData {
	args := append(slices.Clone(c.Entrypoint), c.Command...)
	d := InspectData{
		ID: c.ID, Created: c.Created, Image: c.ImageID, ImageName: c.ImageName,
		Name: c.Name, RestartCount: c.State.RestartCount, Driver: e.Store.GraphDriverName(),
		OCIRuntime: e.Runtime.Path, LogPath: c.LogPath, Rootfs: c.State.Mountpoint,
		State: InspectState{
			OciVersion: "1.2.0", Status: string(c.State.Status),
			Running: c.State.Status == StatusRunning || c.State.Status == StatusStopping,
			Paused:  c.State.Status == StatusPaused, OOMKilled: c.State.OOMKilled,
			Pid: c.State.Pid, ConmonPid: c.State.ConmonPid, ExitCode: c.State.ExitCode,
			Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt,
			Health: c.State.Health,
		},
		Config: InspectConfig{
			Hostname: c.Hostname, User: c.User, Env: c.Env, Cmd: c.Command, Image: c.ImageName,
			WorkingDir: c.WorkDir, Entrypoint: c.Entrypoint, Labels: c.Labels, Annotations: c.Annotations,
			StopSignal: c.StopSignal, StopTimeout: c.StopTimeout, Tty: c.Terminal, OpenStdin: c.Stdin,
			Timezone: c.TZ, Healthcheck: c.Health,
		},
		HostConfig: InspectHostConfig{
			RestartPolicy: InspectRestart{Name: c.Restart.Name, MaximumRetryCount: c.Restart.MaxRetries},
			AutoRemove:    c.AutoRemove, NetworkMode: c.Network, Privileged: c.Security.Privileged,
			ReadonlyRootfs: c.ReadOnly, CapAdd: c.Security.CapAdd, CapDrop: c.Security.CapDrop,
			LogConfig: InspectLog{Type: c.LogDriver, Path: c.LogPath}, Init: c.Init, ShmSize: c.ShmSize,
			Tmpfs: map[string]string{}, Binds: []string{}, Ulimits: []InspectUlimit{},
			PortBindings: portBindings(c),
		},
	}
	if d.State.Health == nil {
		d.State.Health = &Health{}
	}
	e.inspectFiles(c, &d)
	d.NetworkSettings = inspectNetwork(c)
	if d.State.Status == string(StatusConfigured) {
		d.State.Status = string(StatusCreated)
	}
	if d.Config.Hostname == "" {
		d.Config.Hostname = c.ID[:12]
	}
	if len(args) > 0 {
		d.Path, d.Args = args[0], args[1:]
	}
	if c.Security.NoNewPrivileges {
		d.HostConfig.SecurityOpt = append(d.HostConfig.SecurityOpt, "no-new-privileges")
	}
	if c.Security.Seccomp != "" {
		d.HostConfig.SecurityOpt = append(d.HostConfig.SecurityOpt, "seccomp="+c.Security.Seccomp)
	}
	if r := c.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil {
			d.HostConfig.Memory = *r.Memory.Limit
			if r.Memory.Swap != nil {
				d.HostConfig.MemorySwap = *r.Memory.Swap
			}
		}
		if r.CPU != nil {
			if r.CPU.Quota != nil && r.CPU.Period != nil && *r.CPU.Period > 0 {
				d.HostConfig.NanoCpus = *r.CPU.Quota * 1e9 / int64(*r.CPU.Period)
			}
			if r.CPU.Shares != nil {
				d.HostConfig.CPUShares = *r.CPU.Shares
			}
			d.HostConfig.CpusetCpus = r.CPU.Cpus
		}
		if r.Pids != nil {
			d.HostConfig.PidsLimit = r.Pids.Limit
		}
	}
	for _, rl := range c.Rlimits {
		d.HostConfig.Ulimits = append(d.HostConfig.Ulimits, InspectUlimit{Name: rl.Type, Soft: rl.Soft, Hard: rl.Hard})
	}
	d.Mounts = []InspectMount{}
	for _, m := range c.Mounts {
		im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, Options: append([]string{}, m.Options...), RW: !m.ReadOnly}
		if m.Type == "bind" || m.Type == "volume" {
			// As the spec mounts them (specMounts).
			im.Options = append([]string{"rbind"}, userMountOptions(m)...)
			im.Propagation = "rprivate"
		}
		switch m.Type {
		case "volume":
			im.Name = m.Volume
			im.Driver = "local"
			if v, err := e.Volumes().Get(m.Volume); err == nil {
				im.Source = v.Mountpoint
				im.Driver = v.Driver
			}
		case "bind":
			opt := "rw"
			if m.ReadOnly {
				opt = "ro"
			}
			d.HostConfig.Binds = append(d.HostConfig.Binds, m.Source+":"+m.Destination+":"+opt)
		case "tmpfs":
			d.HostConfig.Tmpfs[m.Destination] = strings.Join(m.Options, ",")
		}
		d.Mounts = append(d.Mounts, im)
	}
	return d
}

// inspectFiles fills in the paths of the container's files and its
// layer's directories. The bundle's files are there once it has started.
func (e *Engine) inspectFiles(c *Container, d *InspectData) {
	bundle, err := e.bundle(c.ID)
	if err != nil {
		bundle = e.containerDir(e.Store.RunRoot(), c.ID)
	}
	d.ConmonPidFile = filepath.Join(bundle, "conmon.pid")
	d.PidFile = filepath.Join(bundle, "pidfile")
	exists := func(name string) string {
		p := filepath.Join(bundle, name)
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	d.OCIConfigPath = exists("config.json")
	d.HostsPath, d.ResolvConfPath, d.HostnamePath = exists("hosts"), exists("resolv.conf"), exists("hostname")
	if dir, err := e.containerDirectory(c.ID); err == nil {
		d.StaticDir = dir
	}
	d.GraphDriver = InspectGraphDriver{Name: e.Store.GraphDriverName(), Data: map[string]string{}}
	sc, err := e.Store.Container(c.ID)
	if err != nil {
		return
	}
	drv, err := e.Store.GraphDriver()
	if err != nil {
		return
	}
	if md, err := drv.Metadata(sc.LayerID); err == nil {
		d.GraphDriver.Data = md
	}
}
