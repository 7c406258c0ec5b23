//go:build !thin

package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/imagestore"
)

type searchOptions struct {
	reg       *cli.RegistryFlags
	limit     int
	listTags  bool
	format    string
	noTrunc   bool
	noHeading bool
}

func newSearchCmd(g *globalOptions) *cobra.Command {
	o := &searchOptions{}
	cmd := &cobra.Command{
		Use:   "search [flags] TERM",
		Short: "Search a registry for images",
		Long: `Search the catalog of a v2 registry for repositories whose name contains
TERM. TERM is REGISTRY/TERM; without a registry each of registries.conf's
unqualified-search-registries is searched. With --list-tags, TERM names one
repository (REGISTRY/REPOSITORY) and its tags are listed.`,
		Example: `  engine search registry.example/busy
  engine search --list-tags registry.example/tools/busybox`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := imagestore.Search(cmd.Context(), args[0], imagestore.SearchOptions{Sys: o.reg.Options(g.registriesConf), Limit: o.limit, ListTags: o.listTags})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.format == "json" {
				if res == nil {
					res = []imagestore.SearchResult{}
				}
				return format.JSON(out, res)
			}
			tmpl := o.format
			if tmpl == "" {
				tmpl = "table {{.Name}}\t{{.Description}}"
				if o.listTags {
					tmpl = "table {{.Name}}\t{{.Tag}}"
				}
			}
			w, err := format.NewWriter(out, tmpl, nil, o.noHeading)
			if err != nil {
				return cli.Usage(err)
			}
			for _, r := range res {
				if err := w.Write(r); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.IntVar(&o.limit, "limit", 0, "at most `n` results per registry (default 25)")
	f.BoolVar(&o.listTags, "list-tags", false, "list the tags of the repository TERM")
	f.StringVar(&o.format, "format", "", "pretty-print with a Go `template`, \"table …\" or json")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVarP(&o.noHeading, "noheading", "n", false, "do not print column headings")
	return cmd
}
