package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestCommandName(t *testing.T) {
	root := Root(&cobra.Command{Use: "tool"})
	root.PersistentFlags().StringP("root", "r", "", "")
	root.PersistentFlags().Bool("debug", false, "")
	for args, want := range map[string]string{
		"run -it x":                      "run",
		"--root /x run x":                "run",
		"--root=/x --log-level debug ps": "ps",
		"-r /x exec c true":              "exec",
		"--debug rm c":                   "rm",
		"--help run":                     "",
		"--version":                      "",
		"--unknown run":                  "",
		"":                               "",
		"--root":                         "",
		"-- run":                         "",
	} {
		if got := CommandName(root, strings.Fields(args)); got != want {
			t.Errorf("%q: %q, want %q", args, got, want)
		}
	}
}
