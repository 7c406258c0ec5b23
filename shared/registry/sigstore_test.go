package registry

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSigstoreAttachments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "docker:\n  registry.example:\n    lookaside: file:///tmp/sigs\n")
	if on, err := sigstoreAttachments(dir); err != nil || on {
		t.Fatalf("lookaside only: %v %v", on, err)
	}
	write("b.yaml", "docker:\n  other.example:\n    use-sigstore-attachments: true\n")
	if on, err := sigstoreAttachments(dir); err != nil || !on {
		t.Fatalf("attachments for a namespace: %v %v", on, err)
	}
	if on, err := sigstoreAttachments(filepath.Join(dir, "missing")); err != nil || on {
		t.Fatalf("no registries.d: %v %v", on, err)
	}
}
