package sign

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/signature/sigstore"
	"github.com/opencontainers/go-digest"
)

// newGPGHome creates a throwaway keyring with one passphrase-less key, points
// GNUPGHOME at it and returns the key's fingerprint and the path of the
// exported public key.
func newGPGHome(t *testing.T) (fingerprint, pubKey string) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is required: %v", err)
	}
	// gpg-agent socket paths are limited in length: keep the home short.
	home, err := os.MkdirTemp("/tmp", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	t.Setenv("GNUPGHOME", home)
	gpg := func(args ...string) string {
		out, err := exec.Command("gpg", append([]string{"--homedir", home, "--batch"}, args...)...).Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return string(out)
	}
	gpg("--passphrase", "", "--quick-gen-key", "Unit Test <unit@example.test>", "default", "default", "never")
	for _, line := range strings.Split(gpg("--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fingerprint = f[9]
			break
		}
	}
	if fingerprint == "" {
		t.Fatal("no fingerprint in gpg output")
	}
	pubKey = filepath.Join(t.TempDir(), "pub.gpg")
	if err := os.WriteFile(pubKey, []byte(gpg("--armor", "--export", fingerprint)), 0o644); err != nil {
		t.Fatal(err)
	}
	return fingerprint, pubKey
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sigstoreKey(t *testing.T, passphrase string) string {
	t.Helper()
	kp, err := sigstore.GenerateKeyPair([]byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "cosign.key", string(kp.PrivateKey))
}

func TestReadPassphraseFile(t *testing.T) {
	for content, want := range map[string]string{
		"secret":                "secret",
		"secret\n":              "secret",
		"secret\r\nsecond line": "secret",
		"":                      "",
	} {
		got, err := ReadPassphraseFile(writeFile(t, "pass", content))
		if err != nil || got != want {
			t.Errorf("ReadPassphraseFile(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	if _, err := ReadPassphraseFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want ErrNotExist", err)
	}
}

func TestIdentity(t *testing.T) {
	named, err := Identity(Options{SignBy: "ABCD", Identity: "example.test/app:1"})
	if err != nil || named.String() != "example.test/app:1" {
		t.Fatalf("Identity = %v, %v", named, err)
	}
	named, err = Identity(Options{SignBy: "ABCD", Identity: "busybox"})
	if err != nil || named.String() != "docker.io/library/busybox" {
		t.Fatalf("Identity normalization = %v, %v", named, err)
	}
	if named, err := Identity(Options{SignBy: "ABCD"}); named != nil || err != nil {
		t.Fatalf("no identity: got %v, %v", named, err)
	}
	if _, err := Identity(Options{Identity: "example.test/app:1"}); !errors.Is(err, ErrIdentityWithoutKey) {
		t.Fatalf("identity without key: got %v", err)
	}
	if _, err := Identity(Options{SignBy: "ABCD", Identity: "UPPER/Case"}); err == nil {
		t.Fatal("invalid identity accepted")
	}
}

func TestSignersNone(t *testing.T) {
	signers, closeAll, err := Signers(context.Background(), Options{})
	if err != nil || len(signers) != 0 {
		t.Fatalf("Signers(empty) = %d signers, %v", len(signers), err)
	}
	closeAll()
}

func TestSignersErrors(t *testing.T) {
	ctx := context.Background()
	key := sigstoreKey(t, "right")
	for name, tc := range map[string]struct {
		o    Options
		want error
	}{
		"identity without key":              {Options{Identity: "example.test/a:1"}, ErrIdentityWithoutKey},
		"ambiguous passphrase":              {Options{SignBy: "ABCD", SigstorePrivateKey: key, PassphraseFile: writeFile(t, "p", "right")}, ErrAmbiguousPassphrase},
		"missing passphrase file":           {Options{SigstorePrivateKey: key, PassphraseFile: filepath.Join(t.TempDir(), "nope")}, os.ErrNotExist},
		"missing key file":                  {Options{SigstorePrivateKey: filepath.Join(t.TempDir(), "nope"), PassphraseFile: writeFile(t, "p", "x")}, os.ErrNotExist},
		"wrong passphrase":                  {Options{SigstorePrivateKey: key, PassphraseFile: writeFile(t, "p", "wrong")}, nil},
		"encrypted key, no passphrase file": {Options{SigstorePrivateKey: key}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			signers, closeAll, err := Signers(ctx, tc.o)
			closeAll()
			if err == nil {
				t.Fatalf("got %d signers, want an error", len(signers))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestSignersSigstore(t *testing.T) {
	ctx := context.Background()
	signers, closeAll, err := Signers(ctx, Options{
		SigstorePrivateKey: sigstoreKey(t, "right"),
		PassphraseFile:     writeFile(t, "p", "right\nignored"),
		Identity:           "example.test/app:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(signers) != 1 {
		t.Fatalf("got %d signers, want 1", len(signers))
	}

	// A key encrypted with an empty passphrase needs no passphrase file.
	signers, closeEmpty, err := Signers(ctx, Options{SigstorePrivateKey: sigstoreKey(t, "")})
	if err != nil || len(signers) != 1 {
		t.Fatalf("empty passphrase: %d signers, %v", len(signers), err)
	}
	closeEmpty()
}

func TestSignersBoth(t *testing.T) {
	fpr, _ := newGPGHome(t)
	signers, closeAll, err := Signers(context.Background(), Options{SignBy: fpr, SigstorePrivateKey: sigstoreKey(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(signers) != 2 {
		t.Fatalf("got %d signers, want 2", len(signers))
	}
}

const testManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`

func TestStandaloneRoundTrip(t *testing.T) {
	ctx := context.Background()
	fpr, pubKey := newGPGHome(t)
	manifest := writeFile(t, "manifest.json", testManifest)
	sigPath := filepath.Join(t.TempDir(), "sig")
	ref := "example.test/app:1"

	if err := SignManifest(ctx, SignOptions{ManifestPath: manifest, DockerReference: ref, Fingerprint: fpr, OutputPath: sigPath}); err != nil {
		t.Fatal(err)
	}
	want := digest.FromString(testManifest)

	for name, o := range map[string]VerifyOptions{
		"keyring":         {Fingerprints: []string{fpr}},
		"key list":        {Fingerprints: []string{"0000000000000000000000000000000000000000", fpr}},
		"public key file": {Fingerprints: []string{fpr}, PublicKeyFile: pubKey},
		"any":             {Fingerprints: []string{AnyFingerprint}, PublicKeyFile: pubKey},
	} {
		t.Run(name, func(t *testing.T) {
			o.ManifestPath, o.DockerReference, o.SignaturePath = manifest, ref, sigPath
			v, err := VerifyManifest(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if v.Fingerprint != fpr || v.Digest != want || v.DockerReference != ref {
				t.Fatalf("got %+v, want fingerprint %s digest %s", v, fpr, want)
			}
		})
	}

	other := writeFile(t, "other.json", strings.Replace(testManifest, `"layers":[]`, `"layers":[ ]`, 1))
	for name, o := range map[string]VerifyOptions{
		"wrong fingerprint": {ManifestPath: manifest, DockerReference: ref, Fingerprints: []string{"0000000000000000000000000000000000000000"}},
		"wrong reference":   {ManifestPath: manifest, DockerReference: "example.test/other:1", Fingerprints: []string{fpr}},
		"wrong manifest":    {ManifestPath: other, DockerReference: ref, Fingerprints: []string{fpr}},
	} {
		t.Run(name, func(t *testing.T) {
			o.SignaturePath = sigPath
			if v, err := VerifyManifest(ctx, o); err == nil {
				t.Fatalf("verified %+v, want an error", v)
			}
		})
	}

	if _, err := VerifyManifest(ctx, VerifyOptions{ManifestPath: manifest, DockerReference: ref, Fingerprints: []string{AnyFingerprint}, SignaturePath: sigPath}); !errors.Is(err, ErrAnyWithoutKeyFile) {
		t.Fatalf("any without key file: got %v", err)
	}
}

func TestSignManifestErrors(t *testing.T) {
	ctx := context.Background()
	fpr, _ := newGPGHome(t)
	manifest := writeFile(t, "manifest.json", testManifest)
	out := filepath.Join(t.TempDir(), "sig")
	for name, o := range map[string]SignOptions{
		"unknown key":      {ManifestPath: manifest, DockerReference: "example.test/a:1", Fingerprint: "0000000000000000000000000000000000000000", OutputPath: out},
		"bad reference":    {ManifestPath: manifest, DockerReference: "Bad/Ref", Fingerprint: fpr, OutputPath: out},
		"missing manifest": {ManifestPath: filepath.Join(t.TempDir(), "nope"), DockerReference: "example.test/a:1", Fingerprint: fpr, OutputPath: out},
	} {
		t.Run(name, func(t *testing.T) {
			if err := SignManifest(ctx, o); err == nil {
				t.Fatal("signed, want an error")
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("output written despite the error: %v", err)
			}
		})
	}
}
