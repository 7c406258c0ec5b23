package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// ConfigChange is an edit of a working container's image configuration,
// as buildah config's options give it. A nil pointer or an empty list
// leaves that part alone.
//
// The lists take buildah's forms: "KEY=VALUE" sets, "KEY-" removes one,
// "-" removes all (Env, Labels, Annotations, Ports, Volumes, OSFeatures).
type ConfigChange struct {
	// Cmd and Entrypoint are a JSON array or a string: Cmd's string is
	// split into words as a shell would, Entrypoint's runs with
	// /bin/sh -c. An empty string removes them.
	Cmd, Entrypoint *string
	// Env values expand $VAR from the configuration's environment; a
	// KEY without "=" takes its value from Getenv.
	Env    []string
	Getenv func(string) string
	Labels []string
	// Ports are PORT[/PROTO] (80, 53/udp, 8000-8010/tcp).
	Ports   []string
	Volumes []string
	// Healthcheck is "CMD ARG…", "CMD-SHELL COMMAND", "NONE", a JSON
	// array of one of those, or a shell command (CMD-SHELL); "" removes
	// the healthcheck. The durations are Go durations ("30s").
	Healthcheck                                *string
	HealthInterval, HealthTimeout, HealthStart *string
	HealthRetries                              *int
	User, WorkingDir, StopSignal               *string
	// Shell is a JSON array or words.
	Shell   *string
	OnBuild []string
	Author  *string
	// Platform of the image.
	Arch, OS, Variant, OSVersion *string
	OSFeatures                   []string
	// Annotations of the committed image's manifest.
	Annotations []string
	// Comment is the image's comment; CreatedBy and HistoryComment are
	// the history entry commit writes.
	Comment, CreatedBy, HistoryComment *string
	// AddHistory records an empty-layer history entry for each
	// instruction-like change ("/bin/sh -c #(nop) ENV A=1"), as
	// buildah config --add-history does.
	AddHistory bool
	// Now is the time of those entries (zero: the current time).
	Now time.Time
}

// Configure applies ch to the container and saves it.
func (c *Container) Configure(ch ConfigChange) error {
	x, err := c.Extra()
	if err != nil {
		return err
	}
	if err := ApplyConfig(&c.Config, &x, ch); err != nil {
		return err
	}
	if err := c.Save(); err != nil {
		return err
	}
	return c.SaveExtra(x)
}

// ApplyConfig applies ch to an image configuration and the working
// container's extra settings. On error, cfg and x may be partly changed.
func ApplyConfig(cfg *dockerspec.DockerOCIImage, x *Extra, ch ConfigChange) error {
	now := ch.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	history := func(format string, args ...any) {
		if ch.AddHistory {
			at := now
			cfg.History = append(cfg.History, v1.History{
				Created: &at, CreatedBy: "/bin/sh -c #(nop) " + fmt.Sprintf(format, args...), EmptyLayer: true,
			})
		}
	}
	ic := &cfg.Config
	set := func(p *string, dst *string) bool {
		if p != nil {
			*dst = *p
		}
		return p != nil
	}
	set(ch.Author, &cfg.Author)
	set(ch.Arch, &cfg.Architecture)
	set(ch.OS, &cfg.OS)
	set(ch.Variant, &cfg.Variant)
	set(ch.OSVersion, &cfg.OSVersion)
	for _, f := range ch.OSFeatures {
		switch {
		case f == "-":
			cfg.OSFeatures = nil
		case strings.HasSuffix(f, "-"):
			cfg.OSFeatures = slices.DeleteFunc(cfg.OSFeatures, func(e string) bool { return e == strings.TrimSuffix(f, "-") })
		case !slices.Contains(cfg.OSFeatures, f):
			cfg.OSFeatures = append(cfg.OSFeatures, f)
		}
	}
	if set(ch.User, &ic.User) {
		history("USER %s", ic.User)
	}
	if ch.Shell != nil {
		shell, err := commandWords("--shell", *ch.Shell)
		if err != nil {
			return err
		}
		ic.Shell = shell
		history("SHELL %s", *ch.Shell)
	}
	if set(ch.StopSignal, &ic.StopSignal) {
		history("STOPSIGNAL %s", ic.StopSignal)
	}
	if len(ch.Ports) > 0 {
		for _, p := range ch.Ports {
			switch {
			case p == "-":
				ic.ExposedPorts = nil
			case strings.HasSuffix(p, "-"):
				delete(ic.ExposedPorts, strings.TrimSuffix(p, "-"))
			default:
				if err := checkPort(p); err != nil {
					return err
				}
				if ic.ExposedPorts == nil {
					ic.ExposedPorts = map[string]struct{}{}
				}
				ic.ExposedPorts[p] = struct{}{}
			}
		}
		history("EXPOSE %s", strings.Join(ch.Ports, " "))
	}
	if len(ch.Env) > 0 {
		for _, e := range ch.Env {
			k, v, hasValue := strings.Cut(e, "=")
			switch {
			case hasValue:
				if k == "" {
					return fmt.Errorf("invalid --env %q: no variable name", e)
				}
				ic.Env = setEnvVar(ic.Env, k, expand(v, ic.Env))
			case k == "-":
				ic.Env = nil
			case strings.HasSuffix(k, "-"):
				ic.Env = unsetEnvVar(ic.Env, strings.TrimSuffix(k, "-"))
			default:
				v := ""
				if ch.Getenv != nil {
					v = ch.Getenv(k)
				}
				if v == "" {
					return fmt.Errorf("setting env %q: no value given (use %s=VALUE)", k, k)
				}
				ic.Env = setEnvVar(ic.Env, k, v)
			}
		}
		history("ENV %s", strings.Join(ch.Env, " "))
	}
	if ch.Entrypoint != nil {
		ic.Entrypoint = nil
		if s := strings.TrimSpace(*ch.Entrypoint); s != "" {
			var argv []string
			if strings.HasPrefix(s, "[") {
				if err := json.Unmarshal([]byte(s), &argv); err != nil {
					return fmt.Errorf("invalid --entrypoint %q: not a JSON array of strings", *ch.Entrypoint)
				}
			} else {
				argv = []string{"/bin/sh", "-c", *ch.Entrypoint}
			}
			ic.Entrypoint = argv
		}
		history("ENTRYPOINT %s", *ch.Entrypoint)
	}
	// Cmd comes after the entrypoint, as in buildah.
	if ch.Cmd != nil {
		cmd, err := commandWords("--cmd", *ch.Cmd)
		if err != nil {
			return err
		}
		ic.Cmd = cmd
		history("CMD %s", *ch.Cmd)
	}
	if len(ch.Volumes) > 0 {
		for _, v := range ch.Volumes {
			if strings.HasSuffix(v, "-") && v != "-" {
				delete(ic.Volumes, strings.TrimSuffix(v, "-"))
				continue
			}
			if v == "" || v == "-" {
				return fmt.Errorf("invalid --volume %q: want a path (PATH- removes one)", v)
			}
			if ic.Volumes == nil {
				ic.Volumes = map[string]struct{}{}
			}
			ic.Volumes[v] = struct{}{}
		}
		history("VOLUME %s", strings.Join(ch.Volumes, " "))
	}
	if err := applyHealthcheck(ic, ch); err != nil {
		return err
	}
	if ch.Healthcheck != nil || ch.HealthInterval != nil || ch.HealthTimeout != nil || ch.HealthStart != nil || ch.HealthRetries != nil {
		history("HEALTHCHECK %s", healthString(ic.Healthcheck))
	}
	if len(ch.Labels) > 0 {
		ic.Labels = applyKeyValues(ic.Labels, ch.Labels)
		history("LABEL %s", strings.Join(ch.Labels, " "))
	}
	if ch.WorkingDir != nil {
		ic.WorkingDir = *ch.WorkingDir
		history("WORKDIR %s", ic.WorkingDir)
	}
	for _, o := range ch.OnBuild {
		if strings.TrimSpace(o) == "" {
			return errors.New("invalid --onbuild: empty instruction")
		}
		ic.OnBuild = append(ic.OnBuild, o)
		history("ONBUILD %s", o)
	}
	if len(ch.Annotations) > 0 {
		x.Annotations = applyKeyValues(x.Annotations, ch.Annotations)
	}
	set(ch.Comment, &x.Comment)
	set(ch.CreatedBy, &x.CreatedBy)
	set(ch.HistoryComment, &x.HistoryComment)
	return nil
}

// commandWords parses --cmd or --shell: a JSON array, or words split as a
// shell would; "" is none.
func commandWords(flag, s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	var argv []string
	if strings.HasPrefix(t, "[") && json.Unmarshal([]byte(t), &argv) == nil {
		return argv, nil
	}
	argv, err := SplitWords(s)
	if err != nil {
		return nil, fmt.Errorf("invalid %s %q: %w", flag, s, err)
	}
	return argv, nil
}

// applyKeyValues applies buildah's KEY=VALUE, KEY (empty value), KEY-
// and "-" forms to m.
func applyKeyValues(m map[string]string, specs []string) map[string]string {
	for _, s := range specs {
		k, v, hasValue := strings.Cut(s, "=")
		switch {
		case hasValue:
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		case k == "-":
			m = nil
		case strings.HasSuffix(k, "-"):
			delete(m, strings.TrimSuffix(k, "-"))
		default:
			if m == nil {
				m = map[string]string{}
			}
			m[k] = ""
		}
	}
	return m
}

// checkPort checks PORT[/PROTO], PORT being a number or a range.
func checkPort(p string) error {
	port, proto, hasProto := strings.Cut(p, "/")
	if hasProto && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return fmt.Errorf("invalid --port %q: protocol %q is not tcp, udp or sctp", p, proto)
	}
	nums := []string{port}
	if lo, hi, isRange := strings.Cut(port, "-"); isRange {
		nums = []string{lo, hi}
	}
	for _, n := range nums {
		if v, err := strconv.Atoi(n); err != nil || v < 1 || v > 65535 {
			return fmt.Errorf("invalid --port %q: %q is not a port number", p, n)
		}
	}
	return nil
}

// applyHealthcheck sets the healthcheck parts ch names; a new healthcheck
// starts from Docker's defaults (30s interval and timeout, 3 retries).
func applyHealthcheck(ic *dockerspec.DockerOCIImageConfig, ch ConfigChange) error {
	if ch.Healthcheck == nil && ch.HealthInterval == nil && ch.HealthTimeout == nil && ch.HealthStart == nil && ch.HealthRetries == nil {
		return nil
	}
	hc := &dockerspec.HealthcheckConfig{Test: []string{"NONE"}, Interval: 30 * time.Second, Timeout: 30 * time.Second, Retries: 3}
	if ic.Healthcheck != nil {
		c := *ic.Healthcheck
		hc = &c
	}
	if ch.Healthcheck != nil {
		test, err := healthTest(*ch.Healthcheck)
		if err != nil {
			return err
		}
		hc.Test = test
	}
	for _, d := range []struct {
		flag string
		v    *string
		dst  *time.Duration
	}{
		{"--healthcheck-interval", ch.HealthInterval, &hc.Interval},
		{"--healthcheck-timeout", ch.HealthTimeout, &hc.Timeout},
		{"--healthcheck-start-period", ch.HealthStart, &hc.StartPeriod},
	} {
		if d.v == nil {
			continue
		}
		v, err := time.ParseDuration(*d.v)
		if err != nil || v < 0 {
			return fmt.Errorf("invalid %s %q: want a duration such as 30s", d.flag, *d.v)
		}
		*d.dst = v
	}
	if ch.HealthRetries != nil {
		if *ch.HealthRetries < 0 {
			return fmt.Errorf("invalid --healthcheck-retries %d: negative", *ch.HealthRetries)
		}
		hc.Retries = *ch.HealthRetries
	}
	if len(hc.Test) == 0 {
		ic.Healthcheck = nil
	} else {
		ic.Healthcheck = hc
	}
	return nil
}

// healthTest parses --healthcheck.
func healthTest(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if strings.HasPrefix(t, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(t), &argv); err != nil || len(argv) == 0 {
			return nil, fmt.Errorf("invalid --healthcheck %q: not a JSON array of strings", s)
		}
		switch strings.ToUpper(argv[0]) {
		case "CMD", "CMD-SHELL", "NONE":
			argv[0] = strings.ToUpper(argv[0])
			return argv, nil
		}
		return append([]string{"CMD"}, argv...), nil
	}
	first, rest, _ := strings.Cut(t, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToUpper(first) {
	case "NONE":
		return []string{"NONE"}, nil
	case "CMD":
		args, err := SplitWords(rest)
		if err != nil {
			return nil, fmt.Errorf("invalid --healthcheck %q: %w", s, err)
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("invalid --healthcheck %q: CMD without a command", s)
		}
		return append([]string{"CMD"}, args...), nil
	case "CMD-SHELL":
		if rest == "" {
			return nil, fmt.Errorf("invalid --healthcheck %q: CMD-SHELL without a command", s)
		}
		return []string{"CMD-SHELL", rest}, nil
	}
	return []string{"CMD-SHELL", t}, nil
}

// healthString is a healthcheck as a HEALTHCHECK instruction's arguments.
func healthString(hc *dockerspec.HealthcheckConfig) string {
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return "NONE"
	}
	return fmt.Sprintf("--interval=%s --timeout=%s --start-period=%s --retries=%d %s %s",
		hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries, hc.Test[0], strings.Join(hc.Test[1:], " "))
}

// expand replaces $VAR and ${VAR} in s with the values env sets; a
// variable env lacks becomes "" (with a warning), as in a shell.
func expand(s string, env []string) string {
	return os.Expand(s, func(name string) string {
		for _, e := range env {
			if k, v, ok := strings.Cut(e, "="); ok && k == name {
				return v
			}
		}
		logrus.Warnf("expanding $%s: no value set in the image", name)
		return ""
	})
}

func setEnvVar(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			out := slices.Clone(env)
			out[i] = k + "=" + v
			return out
		}
	}
	return append(slices.Clone(env), k+"="+v)
}

func unsetEnvVar(env []string, k string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(e string) bool {
		ek, _, _ := strings.Cut(e, "=")
		return ek == k
	})
}

// SplitWords splits s into words as a POSIX shell does, without
// expansions: blanks separate words, single quotes keep everything, double
// quotes keep all but \" \\ \$ \` escapes, a backslash outside quotes
// escapes the next character.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case ch == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case ch == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, errors.New("unterminated double quote")
			}
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
