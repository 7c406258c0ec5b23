package config

import (
	_ "embed"
	"fmt"
	"maps"
	"net"
	"slices"

	"github.com/BurntSushi/toml"
	units "github.com/docker/go-units"
)

// Engine holds the engine settings the suite uses: a subset of
// containers.conf(5), read from the same files so that existing setups work.
type Engine struct {
	// [engine]
	Runtime               string              // runtime: name of the OCI runtime, "runc"
	Runtimes              map[string][]string // [engine.runtimes]: candidate paths per runtime name
	ConmonPath            []string            // conmon_path: candidate paths of conmon
	EventsLogger          string              // events_logger: "file", "journald" or "none"
	InfraImage            string              // infra_image: pod infra image; "" = the engine's own
	ImageDefaultTransport string              // image_default_transport: for names without a transport, "docker://"
	PullPolicy            string              // pull_policy: "always", "missing", "never" or "newer"

	// [containers]
	DefaultCapabilities []string // default_capabilities: CAP_ names
	// DefaultUlimits (default_ulimits) are "name=soft:hard" entries. Empty
	// means containers get the calling process's own limits; none is ever
	// raised above the caller's hard limit.
	DefaultUlimits []string
	PidsLimit      int64  // pids_limit: 0 or -1 = unlimited
	LogDriver      string // log_driver: "k8s-file", "journald", "passthrough" or "none"
	TZ             string // tz: container time zone; "" = the image's, "local" = the host's
	SeccompProfile string // seccomp_profile: path of the default profile

	// [network]
	NetworkBackend string // network_backend: "netavark" or "cni"
	DefaultNetwork string // default_network: "podman"
	DefaultSubnet  string // default_subnet: CIDR of the default network
}

//go:embed defaults/containers.conf
var defaultEngineConf string

// DefaultEngine is the configuration without any file: podman's defaults,
// as written in the suite's defaults/containers.conf (compiled in).
func DefaultEngine() Engine {
	var e Engine
	if _, err := e.apply("defaults/containers.conf", defaultEngineConf); err != nil {
		panic(err) // the file is embedded, and tested
	}
	return e
}

// engineFile is one containers.conf: pointers tell what a file sets.
type engineFile struct {
	Engine struct {
		Runtime               *string             `toml:"runtime"`
		Runtimes              map[string][]string `toml:"runtimes"`
		ConmonPath            *[]string           `toml:"conmon_path"`
		EventsLogger          *string             `toml:"events_logger"`
		InfraImage            *string             `toml:"infra_image"`
		ImageDefaultTransport *string             `toml:"image_default_transport"`
		PullPolicy            *string             `toml:"pull_policy"`
	} `toml:"engine"`
	Containers struct {
		DefaultCapabilities *[]string `toml:"default_capabilities"`
		DefaultUlimits      *[]string `toml:"default_ulimits"`
		PidsLimit           *int64    `toml:"pids_limit"`
		LogDriver           *string   `toml:"log_driver"`
		TZ                  *string   `toml:"tz"`
		SeccompProfile      *string   `toml:"seccomp_profile"`
	} `toml:"containers"`
	Network struct {
		NetworkBackend *string `toml:"network_backend"`
		DefaultNetwork *string `toml:"default_network"`
		DefaultSubnet  *string `toml:"default_subnet"`
	} `toml:"network"`
}

// ignoredEngineTables are containers.conf tables the suite does not use.
var ignoredEngineTables = map[string]bool{
	"machine": true, "secrets": true, "farms": true, "podmansh": true, "connection": true,
}

// ignoredEngineKeys are valid containers.conf keys, per table, that the
// suite does not use (containers.conf(5), containers/common v0.50–v0.64).
var ignoredEngineKeys = map[string][]string{
	"engine": {
		"active_service", "add_compression", "cdi_spec_dirs", "cgroup_manager", "chown_copied_files",
		"compat_api_enforce_docker_hub", "compose_providers", "compose_warning_logs", "compression_format",
		"compression_level", "conmon_env_vars", "database_backend", "detach_keys", "enable_port_reservation",
		"env", "events_container_create_inspect_data", "events_logfile_max_size", "events_logfile_path",
		"exit_command_delay", "healthcheck_events", "helper_binaries_dir", "hooks_dir", "image_copy_tmp_dir",
		"image_default_format", "image_parallel_copies", "image_volume_mode", "infra_command",
		"kube_generate_type", "lock_type", "multi_image_archive", "namespace", "network_cmd_options",
		"network_cmd_path", "no_pivot_root", "num_locks", "platform_to_oci_runtime", "pod_exit_policy",
		"remote", "retry", "retry_delay", "runtime_supports_json", "runtime_supports_kvm",
		"runtime_supports_nocgroups", "runtimes_flags", "service_destinations", "service_timeout",
		"ssh_config", "static_dir", "stop_timeout", "tmp_dir", "volume_path", "volume_plugin_timeout",
		"volume_plugins",
	},
	"containers": {
		"annotations", "apparmor_profile", "base_hosts_file", "cgroupns", "cgroups", "container_name_as_hostname",
		"default_sysctls", "devices", "dns_options", "dns_searches", "dns_servers", "env", "env_host",
		"host_containers_internal_ip", "http_proxy", "init", "init_path", "interface_name", "ipcns", "keyring",
		"label", "label_users", "log_path", "log_size_max", "log_tag", "mounts", "netns", "no_hosts",
		"oom_score_adj", "pidns", "prepare_volume_on_create", "privileged", "read_only", "shm_size",
		"shm_size_systemd", "umask", "userns", "userns_size", "utsns", "volumes",
	},
	"network": {
		"cni_plugin_dirs", "default_rootless_network_cmd", "default_subnet_pools", "dns_bind_port",
		"firewall_driver", "netavark_plugin_dirs", "network_config_dir", "pasta_options",
	},
}

// LoadEngine starts from DefaultEngine and applies each existing file of
// paths in order (normally DefaultPaths(env).EngineConfs), later files
// overriding earlier ones key by key. Keys that are not containers.conf keys
// are warnings; valid containers.conf keys and tables the suite does not use
// are ignored silently. A file that does not parse or holds an invalid value
// is a *FileError naming the file (and line).
func LoadEngine(paths ...string) (Engine, []Warning, error) {
	e := DefaultEngine()
	var warnings []Warning
	for _, path := range paths {
		data, ok, err := readFile(path)
		if err != nil {
			return e, warnings, err
		}
		if !ok {
			continue
		}
		w, err := e.apply(path, data)
		warnings = append(warnings, w...)
		if err != nil {
			return e, warnings, err
		}
	}
	return e, warnings, nil
}

// apply decodes one file and overrides e with what it sets.
func (e *Engine) apply(path, data string) ([]Warning, error) {
	var f engineFile
	meta, err := decodeTOML(path, data, &f)
	if err != nil {
		return nil, err
	}
	warnings := undecodedWarnings(path, meta, engineKeyReport)

	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setList := func(dst *[]string, src *[]string) {
		if src != nil {
			*dst = slices.Clone(*src)
		}
	}
	set(&e.Runtime, f.Engine.Runtime)
	if len(f.Engine.Runtimes) > 0 {
		e.Runtimes = maps.Clone(e.Runtimes)
		if e.Runtimes == nil {
			e.Runtimes = map[string][]string{}
		}
		maps.Copy(e.Runtimes, f.Engine.Runtimes)
	}
	setList(&e.ConmonPath, f.Engine.ConmonPath)
	set(&e.EventsLogger, f.Engine.EventsLogger)
	set(&e.InfraImage, f.Engine.InfraImage)
	set(&e.ImageDefaultTransport, f.Engine.ImageDefaultTransport)
	set(&e.PullPolicy, f.Engine.PullPolicy)
	setList(&e.DefaultCapabilities, f.Containers.DefaultCapabilities)
	setList(&e.DefaultUlimits, f.Containers.DefaultUlimits)
	if f.Containers.PidsLimit != nil {
		e.PidsLimit = *f.Containers.PidsLimit
	}
	set(&e.LogDriver, f.Containers.LogDriver)
	set(&e.TZ, f.Containers.TZ)
	set(&e.SeccompProfile, f.Containers.SeccompProfile)
	set(&e.NetworkBackend, f.Network.NetworkBackend)
	set(&e.DefaultNetwork, f.Network.DefaultNetwork)
	set(&e.DefaultSubnet, f.Network.DefaultSubnet)

	if err := e.validate(); err != nil {
		return warnings, &FileError{File: path, Err: err}
	}
	return warnings, nil
}

// engineKeyReport decides whether an undecoded key deserves a warning.
func engineKeyReport(k toml.Key) (string, bool) {
	if ignoredEngineTables[k[0]] {
		return "", false
	}
	if len(k) >= 2 && slices.Contains(ignoredEngineKeys[k[0]], k[1]) {
		return "", false
	}
	name := k[len(k)-1]
	for _, table := range []string{"engine", "containers", "network"} {
		if table != k[0] && (slices.Contains(ignoredEngineKeys[table], name) || slices.Contains(modeledEngineKeys[table], name)) {
			return fmt.Sprintf("%s belongs in the [%s] table", name, table), true
		}
	}
	if len(k) == 1 {
		return "not a containers.conf table", true
	}
	return "not a containers.conf key", true
}

// modeledEngineKeys are the keys engineFile decodes, per table.
var modeledEngineKeys = map[string][]string{
	"engine":     {"runtime", "runtimes", "conmon_path", "events_logger", "infra_image", "image_default_transport", "pull_policy"},
	"containers": {"default_capabilities", "default_ulimits", "pids_limit", "log_driver", "tz", "seccomp_profile"},
	"network":    {"network_backend", "default_network", "default_subnet"},
}

// InvalidValueError is a setting with a value the suite cannot use.
type InvalidValueError struct {
	Key, Value string
	Allowed    []string
}

func (e *InvalidValueError) Error() string {
	if len(e.Allowed) == 0 {
		return fmt.Sprintf("invalid %s %q", e.Key, e.Value)
	}
	return fmt.Sprintf("invalid %s %q (want one of %v)", e.Key, e.Value, e.Allowed)
}

func (e *Engine) validate() error {
	oneOf := func(key, v string, allowed ...string) error {
		if !slices.Contains(allowed, v) {
			return &InvalidValueError{Key: key, Value: v, Allowed: allowed}
		}
		return nil
	}
	var errs []error
	errs = append(errs,
		oneOf("engine.pull_policy", e.PullPolicy, "always", "missing", "never", "newer"),
		oneOf("engine.events_logger", e.EventsLogger, "file", "journald", "none"),
		oneOf("containers.log_driver", e.LogDriver, "k8s-file", "journald", "passthrough", "passthrough-tty", "none"),
		oneOf("network.network_backend", e.NetworkBackend, "netavark", "cni"),
	)
	if e.Runtime == "" {
		errs = append(errs, &InvalidValueError{Key: "engine.runtime", Value: ""})
	}
	if e.PidsLimit < -1 {
		errs = append(errs, &InvalidValueError{Key: "containers.pids_limit", Value: fmt.Sprint(e.PidsLimit)})
	}
	for _, u := range e.DefaultUlimits {
		if _, err := units.ParseUlimit(u); err != nil {
			errs = append(errs, &InvalidValueError{Key: "containers.default_ulimits", Value: u})
		}
	}
	if _, _, err := net.ParseCIDR(e.DefaultSubnet); err != nil {
		errs = append(errs, &InvalidValueError{Key: "network.default_subnet", Value: e.DefaultSubnet})
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
