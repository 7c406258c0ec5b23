// Package container runs long-lived containers with no daemon: records,
// the lifecycle state machine over conmon and the OCI runtime, logs, exec,
// attach and the cleanup that conmon's exit command performs.
package container

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocisuite/suite/engine/network"
)

// Status is a container's lifecycle state, with podman's names.
type Status string

const (
	StatusConfigured Status = "configured" // record and storage exist
	StatusCreated    Status = "created"    // runtime container exists, not started
	StatusRunning    Status = "running"
	StatusPaused     Status = "paused"
	StatusStopping   Status = "stopping"
	StatusExited     Status = "exited"
	StatusRemoving   Status = "removing"
)

// recordVersion marks storage containers that are the engine's, and the
// layout of Config.
const recordVersion = 1

// Config is what a container was created with. It is stored as the
// metadata of its containers/storage container, so the record exists
// exactly when the storage does.
type Config struct {
	Version   int       `json:"engineRecord"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Image     string    `json:"image"`   // as the user named it
	ImageID   string    `json:"imageID"` // the resolved image
	ImageName string    `json:"imageName,omitempty"`
	Created   time.Time `json:"created"`

	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Env         []string          `json:"env,omitempty"`
	WorkDir     string            `json:"workDir,omitempty"`
	User        string            `json:"user,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Terminal    bool              `json:"tty,omitempty"`
	Stdin       bool              `json:"stdin,omitempty"`
	StopSignal  int               `json:"stopSignal,omitempty"`
	StopTimeout uint              `json:"stopTimeout"`

	LogDriver string `json:"logDriver"`
	LogPath   string `json:"logPath,omitempty"`

	Restart    RestartPolicy `json:"restart"`
	AutoRemove bool          `json:"autoRemove,omitempty"`

	Network string `json:"network"`
	// Networks are the bridge networks a "bridge" container joins, Ports
	// what it publishes on the host (engine/network).
	Networks []string              `json:"networks,omitempty"`
	Ports    []network.PortMapping `json:"ports,omitempty"`
	// NetworkOptions are --network NAME:ip=…,mac=…,alias=… per network.
	NetworkOptions map[string]network.Options `json:"networkOptions,omitempty"`
	// PublishAll is -P: the image's exposed ports on random host ports.
	PublishAll bool `json:"publishAll,omitempty"`
	// ExtraHosts are --add-host's "NAME:IP" lines; NoHosts keeps the
	// image's /etc/hosts; DNS* are --dns, --dns-search, --dns-option.
	ExtraHosts []string `json:"extraHosts,omitempty"`
	NoHosts    bool     `json:"noHosts,omitempty"`
	DNSServers []string `json:"dnsServers,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`

	Mounts    []Mount               `json:"mounts,omitempty"`
	ReadOnly  bool                  `json:"readOnly,omitempty"`
	Init      bool                  `json:"init,omitempty"`
	InitPath  string                `json:"initPath,omitempty"`
	Security  Security              `json:"security"`
	Rlimits   []specs.POSIXRlimit   `json:"rlimits,omitempty"`
	Resources *specs.LinuxResources `json:"resources,omitempty"`
	ShmSize   int64                 `json:"shmSize,omitempty"`
	TZ        string                `json:"tz,omitempty"`

	UIDMap []specs.LinuxIDMapping `json:"uidMap,omitempty"`
	GIDMap []specs.LinuxIDMapping `json:"gidMap,omitempty"`
	UserNS string                 `json:"userns,omitempty"`

	Health *Healthcheck `json:"healthcheck,omitempty"`
}

// Mount is a bind mount, tmpfs or volume in the container.
type Mount struct {
	Type        string   `json:"type"` // bind, tmpfs, volume
	Source      string   `json:"source,omitempty"`
	Destination string   `json:"destination"`
	Options     []string `json:"options,omitempty"`
	ReadOnly    bool     `json:"readOnly,omitempty"`
	// Volume is the named volume's name for type volume.
	Volume    string `json:"volume,omitempty"`
	Anonymous bool   `json:"anonymous,omitempty"`
}

// Security holds the security options.
type Security struct {
	Privileged      bool     `json:"privileged,omitempty"`
	CapAdd          []string `json:"capAdd,omitempty"`
	CapDrop         []string `json:"capDrop,omitempty"`
	NoNewPrivileges bool     `json:"noNewPrivileges,omitempty"`
	// Seccomp is "" (default profile), "unconfined" or a profile path.
	Seccomp string   `json:"seccomp,omitempty"`
	Mask    []string `json:"mask,omitempty"`
	Unmask  []string `json:"unmask,omitempty"`
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name       string `json:"name"` // "no", "on-failure", "always", "unless-stopped"
	MaxRetries int    `json:"maxRetries,omitempty"`
}

// Healthcheck is the container's health command.
type Healthcheck struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	StartPeriod time.Duration `json:"startPeriod"`
	Retries     int           `json:"retries"`
	OnFailure   string        `json:"onFailure,omitempty"`
}

// State is what changes over a container's life. It is written atomically
// next to the container's storage under the container's own lock.
type State struct {
	Status       Status    `json:"status"`
	Pid          int       `json:"pid,omitempty"`
	ConmonPid    int       `json:"conmonPid,omitempty"`
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt,omitempty"`
	FinishedAt   time.Time `json:"finishedAt,omitempty"`
	RestartCount int       `json:"restartCount,omitempty"`
	// StoppedByUser is set by stop and kill, so unless-stopped and
	// on-failure do not restart what the user stopped.
	StoppedByUser bool    `json:"stoppedByUser,omitempty"`
	BootID        string  `json:"bootID,omitempty"`
	Mountpoint    string  `json:"mountpoint,omitempty"`
	OOMKilled     bool    `json:"oomKilled,omitempty"`
	Error         string  `json:"error,omitempty"`
	Health        *Health `json:"health,omitempty"`
	// Checkpointed is set when checkpoint stopped the container; its CRIU
	// images wait in the storage directory for restore.
	Checkpointed bool `json:"checkpointed,omitempty"`
	// Net is this run's network namespace, addresses and ports (bridge
	// networks), set up by init and torn down by finish.
	Net *network.Status `json:"net,omitempty"`
	// Op is the operation in progress (start, stop, checkpoint…), marked
	// so that other writers wait for it without a lock held across the
	// runtime calls, and so that a killed owner is seen.
	Op *Op `json:"op,omitempty"`
}

// Op marks an operation in progress on a container.
type Op struct {
	Name  string `json:"name"`
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"` // the owner's start time, against PID reuse
}

// Health is the healthcheck's record.
type Health struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one healthcheck run.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Container is a record and its state.
type Container struct {
	Config
	State State
}

// Running reports whether the container has processes (running or paused).
func (c *Container) Running() bool {
	return c.State.Status == StatusRunning || c.State.Status == StatusPaused || c.State.Status == StatusStopping
}
