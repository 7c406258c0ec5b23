package container

import (
	"reflect"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func ptr[T any](v T) *T { return &v }

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`echo hi`:                   {"echo", "hi"},
		`  a   b  `:                 {"a", "b"},
		`sh -c 'echo "$A"; ls'`:     {"sh", "-c", `echo "$A"; ls`},
		`say "a \"b\" \$c" d\ e`:    {"say", `a "b" $c`, "d e"},
		`""`:                        {""},
		`x''y`:                      {"xy"},
		`"keep \n backslash"`:       {`keep \n backslash`},
		"":                          nil,
		`--level 'very high'`:       {"--level", "very high"},
		`one\` + "\n" + `two three`: {"onetwo", "three"},
	} {
		got, err := SplitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`"open`, `it's`} {
		if _, err := SplitWords(in); err == nil {
			t.Errorf("SplitWords(%q) accepted an unterminated quote", in)
		}
	}
}

func TestApplyConfigForms(t *testing.T) {
	var cfg dockerspec.DockerOCIImage
	cfg.Config.Env = []string{"PATH=/bin", "HOME=/root"}
	cfg.Config.Cmd = []string{"sh"}
	var x Extra
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	err := ApplyConfig(&cfg, &x, ConfigChange{
		Entrypoint: ptr("exec app"),
		Cmd:        ptr(`--name "my app"`),
		Env:        []string{"A=1", "B=$A:${HOME}", "HOME-", "FROMHOST"},
		Getenv:     func(k string) string { return map[string]string{"FROMHOST": "yes"}[k] },
		Labels:     []string{"a=1", "b", "c=3", "c-"},
		Ports:      []string{"80", "53/udp", "9000-9010/tcp"},
		Volumes:    []string{"/data", "/cache", "/cache-"},
		User:       ptr("app:app"),
		WorkingDir: ptr("/srv"),
		Shell:      ptr(`["/bin/bash","-c"]`),
		OnBuild:    []string{"RUN true"},
		Author:     ptr("me"),
		OS:         ptr("linux"),
		Arch:       ptr("arm64"),
		OSFeatures: []string{"f1", "f2", "f1-"},
		Annotations: []string{
			"org.example=1",
		},
		CreatedBy:      ptr("by hand"),
		HistoryComment: ptr("note"),
		Comment:        ptr("image comment"),
		AddHistory:     true,
		Now:            at,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Entrypoint", c.Entrypoint, []string{"/bin/sh", "-c", "exec app"})
	check("Cmd", c.Cmd, []string{"--name", "my app"})
	check("Env", c.Env, []string{"PATH=/bin", "A=1", "B=1:/root", "FROMHOST=yes"})
	check("Labels", c.Labels, map[string]string{"a": "1", "b": ""})
	check("Ports", c.ExposedPorts, map[string]struct{}{"80": {}, "53/udp": {}, "9000-9010/tcp": {}})
	check("Volumes", c.Volumes, map[string]struct{}{"/data": {}})
	check("User", c.User, "app:app")
	check("WorkingDir", c.WorkingDir, "/srv")
	check("Shell", c.Shell, []string{"/bin/bash", "-c"})
	check("OnBuild", c.OnBuild, []string{"RUN true"})
	check("Author", cfg.Author, "me")
	check("Arch", cfg.Architecture, "arm64")
	check("OSFeatures", cfg.OSFeatures, []string{"f2"})
	check("Extra", x, Extra{Annotations: map[string]string{"org.example": "1"}, Comment: "image comment", CreatedBy: "by hand", HistoryComment: "note"})
	var created []string
	for _, h := range cfg.History {
		if !h.EmptyLayer || h.Created == nil || !h.Created.Equal(at) {
			t.Errorf("history entry %+v: want an empty layer at %v", h, at)
		}
		created = append(created, strings.TrimPrefix(h.CreatedBy, "/bin/sh -c #(nop) "))
	}
	check("history", created, []string{
		"USER app:app", `SHELL ["/bin/bash","-c"]`, "EXPOSE 80 53/udp 9000-9010/tcp", "ENV A=1 B=$A:${HOME} HOME- FROMHOST",
		"ENTRYPOINT exec app", `CMD --name "my app"`, "VOLUME /data /cache /cache-", "LABEL a=1 b c=3 c-", "WORKDIR /srv", "ONBUILD RUN true",
	})

	// Clearing: "-" removes all, "" removes the command parts.
	err = ApplyConfig(&cfg, &x, ConfigChange{
		Entrypoint: ptr(`["/app"]`), Cmd: ptr(""), Env: []string{"-"}, Labels: []string{"-"}, Ports: []string{"-"}, Annotations: []string{"org.example-"},
	})
	if err != nil {
		t.Fatal(err)
	}
	check("Entrypoint", cfg.Config.Entrypoint, []string{"/app"})
	if cfg.Config.Cmd != nil || cfg.Config.Env != nil || cfg.Config.Labels != nil || cfg.Config.ExposedPorts != nil || len(x.Annotations) != 0 {
		t.Errorf("after clearing: %+v %+v", cfg.Config, x)
	}
	if n := len(cfg.History); n != 10 {
		t.Errorf("history has %d entries without AddHistory, want 10", n)
	}
}

func TestApplyConfigHealthcheck(t *testing.T) {
	var cfg dockerspec.DockerOCIImage
	var x Extra
	// Only tuning, no test: a disabled check with the defaults, tuned.
	if err := ApplyConfig(&cfg, &x, ConfigChange{HealthInterval: ptr("5s")}); err != nil {
		t.Fatal(err)
	}
	want := &dockerspec.HealthcheckConfig{Test: []string{"NONE"}, Interval: 5 * time.Second, Timeout: 30 * time.Second, Retries: 3}
	if !reflect.DeepEqual(cfg.Config.Healthcheck, want) {
		t.Fatalf("healthcheck %+v, want %+v", cfg.Config.Healthcheck, want)
	}
	for in, test := range map[string][]string{
		"CMD curl -f 'http://x/a b'":    {"CMD", "curl", "-f", "http://x/a b"},
		"CMD-SHELL curl -f x || exit 1": {"CMD-SHELL", "curl -f x || exit 1"},
		"test -f /ok":                   {"CMD-SHELL", "test -f /ok"},
		`["CMD", "true"]`:               {"CMD", "true"},
		`["/bin/check", "-v"]`:          {"CMD", "/bin/check", "-v"},
		"none":                          {"NONE"},
	} {
		if err := ApplyConfig(&cfg, &x, ConfigChange{Healthcheck: ptr(in), HealthRetries: ptr(7)}); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		hc := cfg.Config.Healthcheck
		if !reflect.DeepEqual(hc.Test, test) || hc.Interval != 5*time.Second || hc.Retries != 7 {
			t.Errorf("--healthcheck %q: %+v, want test %q kept interval and 7 retries", in, hc, test)
		}
	}
	if err := ApplyConfig(&cfg, &x, ConfigChange{Healthcheck: ptr("")}); err != nil || cfg.Config.Healthcheck != nil {
		t.Errorf("--healthcheck '': %+v %v, want no healthcheck", cfg.Config.Healthcheck, err)
	}
}

func TestApplyConfigErrors(t *testing.T) {
	for name, ch := range map[string]ConfigChange{
		"--port":                     {Ports: []string{"80/tcpx"}},
		"--port ":                    {Ports: []string{"0"}},
		"--port  ":                   {Ports: []string{"1-x"}},
		"--entrypoint":               {Entrypoint: ptr(`["a", 1]`)},
		"--cmd":                      {Cmd: ptr(`'open`)},
		"--shell":                    {Shell: ptr(`"open`)},
		"setting env":                {Env: []string{"UNSET_IN_TEST"}, Getenv: func(string) string { return "" }},
		"--env":                      {Env: []string{"=v"}},
		"--healthcheck-timeout":      {HealthTimeout: ptr("-1s")},
		"--healthcheck-retries":      {HealthRetries: ptr(-1)},
		"--healthcheck":              {Healthcheck: ptr("CMD")},
		"--volume":                   {Volumes: []string{""}},
		"--onbuild":                  {OnBuild: []string{" "}},
		"--healthcheck-start-period": {HealthStart: ptr("soon")},
	} {
		var cfg dockerspec.DockerOCIImage
		err := ApplyConfig(&cfg, &Extra{}, ch)
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestHealthString(t *testing.T) {
	hc := &dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: 2 * time.Second, Retries: 1}
	if got := healthString(hc); got != "--interval=1s --timeout=2s --start-period=0s --retries=1 CMD true" {
		t.Errorf("healthString = %q", got)
	}
	if got := healthString(nil); got != "NONE" {
		t.Errorf("healthString(nil) = %q", got)
	}
}
