package main

import (
	"context"
	"errors"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
)

type configOptions struct {
	cmd, entrypoint, user, workingDir, stopSignal, shell          string
	healthcheck, healthInterval, healthTimeout, healthStartPeriod string
	healthRetries                                                 int
	author, arch, os, variant, osVersion                          string
	comment, createdBy, historyComment                            string
	env, labels, ports, volumes, onBuild, annotations, osFeatures []string
	addHistory                                                    bool
}

func newConfigCmd(g *globalOptions) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config [flags] CONTAINER",
		Short: "Change the image configuration of a working container",
		Long: `Change the configuration commit writes for the working container. List
options take KEY=VALUE to set, KEY- to remove one entry and - to remove all
(--env, --label, --annotation, --port, --volume, --os-feature). --cmd and
--entrypoint take a JSON array or a string: --cmd's string is split into
words, --entrypoint's runs with /bin/sh -c; "" removes them.`,
		Example: `  builder config --cmd '["/app","--serve"]' --port 8080 --env MODE=prod app
  builder config --entrypoint 'exec /app' --user app --workingdir /srv app
  builder config --healthcheck 'CMD-SHELL wget -q -O- localhost:8080' --healthcheck-interval 10s app
  builder config --label version- --env DEBUG- app`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runConfig(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.cmd, "cmd", "", "default `command` of containers of the image (JSON array or words)")
	f.StringVar(&o.entrypoint, "entrypoint", "", "`entry point` of containers of the image (JSON array, or a shell command)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set `KEY=VALUE` in the environment ($VAR expands; KEY- removes, - removes all)")
	f.StringArrayVarP(&o.labels, "label", "l", nil, "set `KEY=VALUE` label (KEY- removes, - removes all)")
	f.StringArrayVarP(&o.annotations, "annotation", "a", nil, "set `KEY=VALUE` annotation of the image's manifest (KEY- removes)")
	f.StringArrayVarP(&o.ports, "port", "p", nil, "expose `PORT[/PROTO]` (PORT- removes, - removes all)")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "declare volume `path` (PATH- removes)")
	f.StringVarP(&o.user, "user", "u", "", "default `user[:group]` of containers of the image")
	f.StringVar(&o.workingDir, "workingdir", "", "working `directory` of containers of the image")
	f.StringVar(&o.stopSignal, "stop-signal", "", "`signal` that stops containers of the image")
	f.StringVar(&o.shell, "shell", "", "`shell` for shell-form commands (JSON array or words)")
	f.StringArrayVar(&o.onBuild, "onbuild", nil, "add an ONBUILD `instruction` for images built on this one")
	f.StringVar(&o.healthcheck, "healthcheck", "", "healthcheck `command`: CMD ARG…, CMD-SHELL COMMAND, NONE or a shell command (\"\" removes)")
	f.StringVar(&o.healthInterval, "healthcheck-interval", "", "`interval` between healthchecks")
	f.IntVar(&o.healthRetries, "healthcheck-retries", 0, "`number` of failed healthchecks that make a container unhealthy")
	f.StringVar(&o.healthStartPeriod, "healthcheck-start-period", "", "`time` after start during which failed healthchecks do not count")
	f.StringVar(&o.healthTimeout, "healthcheck-timeout", "", "`time` a healthcheck may take")
	f.StringVar(&o.author, "author", "", "image author contact `information`")
	f.StringVar(&o.arch, "arch", "", "`architecture` of the image")
	f.StringVar(&o.os, "os", "", "`operating system` of the image")
	f.StringVar(&o.variant, "variant", "", "architecture `variant` of the image")
	f.StringVar(&o.osVersion, "os-version", "", "required OS `version` of the image")
	f.StringArrayVar(&o.osFeatures, "os-feature", nil, "required OS `feature` of the image (FEATURE- removes)")
	f.StringVar(&o.comment, "comment", "", "image `comment`")
	f.StringVar(&o.createdBy, "created-by", "", "`description` of how the image was made (created_by of commit's history entry)")
	f.StringVar(&o.historyComment, "history-comment", "", "`comment` of commit's history entry")
	f.BoolVar(&o.addHistory, "add-history", historyDefault(), "add history entries for the changes (default: $BUILDAH_HISTORY)")
	return cmd
}

func runConfig(cmd *cobra.Command, g *globalOptions, o *configOptions, name string) error {
	f := cmd.Flags()
	str := func(flag string, v *string) *string {
		if f.Changed(flag) {
			return v
		}
		return nil
	}
	ch := container.ConfigChange{
		Cmd: str("cmd", &o.cmd), Entrypoint: str("entrypoint", &o.entrypoint),
		Env: o.env, Getenv: os.Getenv, Labels: o.labels, Ports: o.ports, Volumes: o.volumes,
		Healthcheck: str("healthcheck", &o.healthcheck), HealthInterval: str("healthcheck-interval", &o.healthInterval),
		HealthTimeout: str("healthcheck-timeout", &o.healthTimeout), HealthStart: str("healthcheck-start-period", &o.healthStartPeriod),
		User: str("user", &o.user), WorkingDir: str("workingdir", &o.workingDir), StopSignal: str("stop-signal", &o.stopSignal),
		Shell: str("shell", &o.shell), OnBuild: o.onBuild, Author: str("author", &o.author),
		Arch: str("arch", &o.arch), OS: str("os", &o.os), Variant: str("variant", &o.variant), OSVersion: str("os-version", &o.osVersion),
		OSFeatures: o.osFeatures, Annotations: o.annotations,
		Comment: str("comment", &o.comment), CreatedBy: str("created-by", &o.createdBy), HistoryComment: str("history-comment", &o.historyComment),
		AddHistory: o.addHistory,
	}
	if f.Changed("healthcheck-retries") {
		ch.HealthRetries = &o.healthRetries
	}
	if !anyChanged(cmd.LocalFlags(), "add-history") {
		return cli.Usage(errors.New("no configuration option given (see 'builder config --help')"))
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		c, err := s.lookup(name)
		if err != nil {
			return err
		}
		return c.Configure(ch)
	})
}

// anyChanged reports whether a flag of f other than those in except was
// set.
func anyChanged(f *pflag.FlagSet, except ...string) bool {
	changed := false
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed && !slices.Contains(except, fl.Name) {
			changed = true
		}
	})
	return changed
}
