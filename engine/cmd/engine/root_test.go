//go:build !thin

package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// describe is a command's name, aliases, usage and flags, and its
// subcommands', as help and parsing see them.
func describe(c *cobra.Command) string {
	var b strings.Builder
	var walk func(c *cobra.Command, indent string)
	walk = func(c *cobra.Command, indent string) {
		fmt.Fprintf(&b, "%s%s %v %q\n", indent, c.Use, c.Aliases, c.Short)
		var flags []string
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			flags = append(flags, fmt.Sprintf("%s/%s %s=%q %q", f.Name, f.Shorthand, f.Value.Type(), f.DefValue, f.Usage))
		})
		sort.Strings(flags)
		for _, f := range flags {
			fmt.Fprintf(&b, "%s  --%s\n", indent, f)
		}
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Use < subs[j].Use })
		for _, s := range subs {
			walk(s, indent+"  ")
		}
	}
	walk(c, "")
	return b.String()
}

// TestLazyCommands: a command line naming one of lazyCommands builds a
// root holding that command alone, the same (usage, aliases, flags,
// subcommands) as in the whole tree, with the global flags; any other
// command line builds the whole tree.
func TestLazyCommands(t *testing.T) {
	full := newRootCmd(nil)
	for name := range lazyCommands(&globalOptions{}) {
		want, _, err := full.Find([]string{name})
		if err != nil || want == full {
			t.Errorf("%s: not a command of the whole tree (%v)", name, err)
			continue
		}
		root := newRootCmd([]string{"--root", "/x", name, "--help"})
		if n := len(root.Commands()); n != 2 { // the command and "docs"
			t.Errorf("%s: the lazy root has %d commands", name, n)
		}
		got, _, err := root.Find([]string{name})
		if err != nil || got == root {
			t.Errorf("%s: not in the lazy root (%v)", name, err)
			continue
		}
		if d, w := describe(got), describe(want); d != w {
			t.Errorf("%s differs from the whole tree's:\n%s\nwant:\n%s", name, d, w)
		}
		if got.Flags().Lookup("root") == nil && got.InheritedFlags().Lookup("root") == nil {
			t.Errorf("%s: no global --root", name)
		}
	}
	for _, args := range [][]string{nil, {"help", "run"}, {"--help"}, {"pull", "x"}, {"__complete", "r"}} {
		if n, all := len(newRootCmd(args).Commands()), len(full.Commands()); n != all {
			t.Errorf("%q: %d commands, want the whole tree's %d", args, n, all)
		}
	}
}
