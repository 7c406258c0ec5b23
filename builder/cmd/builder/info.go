package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/preflight"
	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/oci"
	"github.com/ocisuite/suite/shared/store"
)

// infoCommands: info (--check).
func infoCommands(g *globalOptions) []*cobra.Command {
	var check bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the host and the store the builder works with; --check tests what a rootless build needs",
		Long: `Show the host (kernel, CPUs, rootless or not, the user namespace's ID maps,
the cgroup version, the OCI runtime) and the store (roots, the storage driver,
why it was chosen, and the number of images and containers).

With --check, run the preflight checks a rootless CI job needs: subordinate
ID ranges, newuidmap and newgidmap, user namespace creation, the storage
driver and the store, /dev/fuse, cgroups and the OCI runtime. Each prints
ok, warn or FAIL, with the command that fixes a failure; the exit code is 1
when any check fails (warnings do not fail).`,
		Example: `  builder info
  builder info --format '{{.Store.GraphDriverName}}'
  builder info --check`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings, warnings, err := config.LoadEngine(config.DefaultPaths(config.CurrentEnv()).EngineConfs...)
			for _, w := range warnings {
				logrus.Warn(w.String())
			}
			if err != nil {
				return err
			}
			runtime := g.runtime
			if runtime == "" {
				runtime = settings.Runtime
			}
			if check {
				o := preflight.CheckOptions{Store: g.store, Runtime: runtime, Runtimes: settings.Runtimes}
				if msg := cmd.Annotations[enterErrorKey]; msg != "" {
					o.EnterError = errors.New(msg)
				}
				results := preflight.Checks(cmd.Context(), o)
				return printChecks(cmd.OutOrStdout(), results, fmtFlag)
			}
			o, choice, err := preflight.PrepareStore(g.store, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			s, err := store.Open(o)
			if err != nil {
				return err
			}
			defer s.Shutdown(false)
			rt, err := oci.Find(runtime, settings.Runtimes)
			if err != nil {
				logrus.Debug(err) // the report shows no runtime
			}
			info := preflight.Info{Host: preflight.Host(rt)}
			if info.Store, err = preflight.StoreReport(s, choice.Reason); err != nil {
				return err
			}
			return output(cmd.OutOrStdout(), fmtFlag, info)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "run the preflight checks; exit 1 if one fails")
	cmd.Flags().StringVar(&fmtFlag, "format", "", "output as `json` (the default without --check) or through a Go template")
	return []*cobra.Command{cmd}
}

// output writes v as JSON or through a --format template.
func output(w io.Writer, text string, v any) error {
	if text == "" || text == "json" {
		return format.JSON(w, v)
	}
	t, err := format.Parse(text)
	if err != nil {
		return cli.Usage(err)
	}
	return t.Execute(w, v)
}

// printChecks writes one line per check ("ok", "warn" or "FAIL", the
// check, what it found) and the fix under each failure or warning, or the
// results as JSON or through a template (applied to each), and fails when
// a check failed.
func printChecks(w io.Writer, results []preflight.Result, text string) error {
	var err error
	switch text {
	case "":
		for _, r := range results {
			fmt.Fprintf(w, "%-5s %s: %s\n", r.Status(), r.Name, r.Detail)
			if r.Fix != "" && !r.OK {
				fmt.Fprintf(w, "      fix: %s\n", r.Fix)
			}
		}
	case "json":
		err = format.JSON(w, results)
	default:
		t, perr := format.Parse(text)
		if perr != nil {
			return cli.Usage(perr)
		}
		for _, r := range results {
			if err = t.Execute(w, r); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		if r.Failed() {
			failed = append(failed, r.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d preflight checks failed: %s", len(failed), len(results), strings.Join(failed, ", "))
	}
	return nil
}

// enterErrorKey annotates the info command with why a rootless user's
// namespace could not be entered.
const enterErrorKey = "builder.enter-error"

// infoCheckWithoutNamespace runs args if they are `builder info --check`
// in a rootless process that could not enter its user namespace
// (enterErr), so that the checks say why; ok is false for any other
// command.
func infoCheckWithoutNamespace(args []string, enterErr error) (code int, ok bool) {
	root := newRootCmd()
	c, rest, err := root.Find(args)
	if err != nil || c.Name() != "info" || c.Parent() != root ||
		!slices.ContainsFunc(rest, func(a string) bool { return a == "--check" || a == "--check=true" }) {
		return 0, false
	}
	c.Annotations = map[string]string{enterErrorKey: enterErr.Error()}
	return cli.Main(root, args, os.Stderr, exitCodes), true
}
