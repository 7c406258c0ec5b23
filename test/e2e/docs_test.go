package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
)

// TestTransportDocsUpToDate: docs/transport has a page per command, each
// with its man page, as `transport generate-docs` writes them today
// (regenerate with make docs).
func TestTransportDocsUpToDate(t *testing.T) {
	out := t.TempDir()
	bin.MustRun(t, nil, "transport", "generate-docs", out)
	generated, err := filepath.Glob(filepath.Join(out, "transport", "*.md"))
	if err != nil || len(generated) < 12 {
		t.Fatalf("generate-docs wrote %d pages (%v), want one per command", len(generated), err)
	}
	repo := filepath.Join("..", "..", "docs")
	for _, g := range generated {
		page := filepath.Base(g)
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join(repo, "transport", page))
		if err != nil || string(got) != string(want) {
			t.Fatalf("docs/transport/%s is missing or out of date (run make docs): %v", page, err)
		}
		// Man pages carry the month they were made: only their presence.
		man := strings.ReplaceAll(strings.TrimSuffix(page, ".md"), "_", "-") + ".1"
		if _, err := os.Stat(filepath.Join(repo, "man", man)); err != nil {
			t.Fatalf("no man page docs/man/%s: %v", man, err)
		}
	}
}
