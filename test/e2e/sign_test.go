package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containers/image/v5/signature/sigstore"
	"github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// signKeyring is a throwaway GnuPG home with two signing keys: Plain has no
// passphrase, Protected is protected by Passphrase.
type signKeyring struct {
	Home                      string
	Plain, Protected          string // fingerprints
	PlainPub, ProtectedPub    string // exported public keys (armored)
	Passphrase                string
	PassphraseFile, WrongFile string
}

// env is the environment the binaries need to find the keyring.
func (k signKeyring) env() []string { return []string{"GNUPGHOME=" + k.Home} }

func newSignKeyring(t *testing.T) signKeyring {
	t.Helper()
	// gpg-agent's socket lives in the home: keep its path short.
	home, err := os.MkdirTemp("/tmp", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("gpg %v: %v: %s", args, err, stderr)
		}
		return string(out)
	}
	fingerprint := func(uid string) string {
		t.Helper()
		out := gpg("--with-colons", "--list-secret-keys", uid)
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
				return f[9]
			}
		}
		t.Fatalf("no fingerprint for %s in %q", uid, out)
		return ""
	}
	dir := t.TempDir()
	export := func(name, fpr string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(gpg("--armor", "--export", fpr)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k := signKeyring{Home: home, Passphrase: "correct horse"}
	gpg("--passphrase", "", "--quick-gen-key", "Plain Signer <plain@example.test>", "default", "default", "never")
	gpg("--passphrase", k.Passphrase, "--quick-gen-key", "Protected Signer <protected@example.test>", "default", "default", "never")
	k.Plain = fingerprint("plain@example.test")
	k.Protected = fingerprint("protected@example.test")
	// Forget the passphrase gpg-agent cached while generating the keys, so
	// that signing has to use the one it is given.
	if out, err := exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").CombinedOutput(); err != nil {
		t.Fatalf("stopping gpg-agent: %v: %s", err, out)
	}
	k.PlainPub = export("plain.asc", k.Plain)
	k.ProtectedPub = export("protected.asc", k.Protected)
	k.PassphraseFile = signWrite(t, "passphrase", k.Passphrase+"\nthe second line is ignored\n")
	k.WrongFile = signWrite(t, "wrong-passphrase", "not the passphrase\n")
	return k
}

// signWrite writes content to a new file NAME in a temporary directory.
func signWrite(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signRegistriesD writes a registries.d directory configuring reg's signature
// storage: a lookaside directory (returned) and, if attachments, sigstore
// attachments in the registry itself.
func signRegistriesD(t *testing.T, reg *registry.Registry, attachments bool) (dir, lookaside string) {
	t.Helper()
	dir = t.TempDir()
	lookaside = filepath.Join(t.TempDir(), "sigstore")
	conf := fmt.Sprintf("docker:\n  %s:\n    lookaside: file://%s\n    lookaside-staging: file://%s\n", reg.Addr, lookaside, lookaside)
	if attachments {
		conf += "    use-sigstore-attachments: true\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, lookaside
}

// signPolicy writes a policy.json: default requirements, plus requirements for
// the docker transport scope (a registry or repository) if scope is not empty.
func signPolicy(t *testing.T, def []map[string]any, scope string, reqs ...map[string]any) string {
	t.Helper()
	p := map[string]any{"default": def}
	if scope != "" {
		p["transports"] = map[string]any{"docker": map[string]any{scope: reqs}}
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return signWrite(t, "policy.json", string(data))
}

func signAcceptAnything() map[string]any { return map[string]any{"type": "insecureAcceptAnything"} }
func signRejectAll() map[string]any      { return map[string]any{"type": "reject"} }

func signSignedBy(keyPath string) map[string]any {
	return map[string]any{"type": "signedBy", "keyType": "GPGKeys", "keyPath": keyPath}
}

// signManifestDigest returns the digest of the manifest REPO:TAG in reg, or ""
// if it does not exist.
func signManifestDigest(t *testing.T, reg *registry.Registry, repo, tag string) digest.Digest {
	t.Helper()
	resp, err := reg.Do(http.MethodHead, "/v2/"+repo+"/manifests/"+tag, map[string]string{"Accept": registry.AcceptManifests})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return digest.Digest(resp.Header.Get("Docker-Content-Digest"))
	case http.StatusNotFound:
		return ""
	}
	t.Fatalf("HEAD manifest %s:%s: %s", repo, tag, resp.Status)
	return ""
}

// signManifest returns the manifest REPO@DGST in reg as stored.
func signManifest(t *testing.T, reg *registry.Registry, repo string, dgst digest.Digest) []byte {
	t.Helper()
	resp, err := reg.Do(http.MethodGet, "/v2/"+repo+"/manifests/"+dgst.String(), map[string]string{"Accept": registry.AcceptManifests})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s@%s: %s %v: %s", repo, dgst, resp.Status, err, body)
	}
	if got := digest.FromBytes(body); got != dgst {
		t.Fatalf("GET manifest %s@%s returned content with digest %s", repo, dgst, got)
	}
	return body
}

// signTags lists the tags of repo in reg (none if the repository does not exist).
func signTags(t *testing.T, reg *registry.Registry, repo string) []string {
	t.Helper()
	resp, err := reg.Do(http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var list struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("listing tags of %s: %s %v", repo, resp.Status, err)
	}
	return list.Tags
}

// signCopy runs `transport GLOBALS... copy ARGS...` with the flags that reach
// reg (a plain-HTTP registry) for both source and destination.
func signCopy(t *testing.T, env []string, reg *registry.Registry, globals []string, args ...string) bin.Result {
	t.Helper()
	all := append(slices.Clone(globals), "copy")
	all = append(all, reg.Flags("src-")...)
	all = append(all, reg.Flags("dest-")...)
	return signRun(t, env, append(all, args...)...)
}

// signRun runs bin/transport with the global flags first.
func signRun(t *testing.T, env []string, args ...string) bin.Result {
	t.Helper()
	return bin.Run(t, env, "transport", args...)
}

func signRequireOK(t *testing.T, r bin.Result, what string) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
}

// signRequireRejected checks a failed copy: exit 1 and a one-line message that
// contains every one of wants.
func signRequireRejected(t *testing.T, r bin.Result, what string, wants ...string) {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
	msg := strings.TrimRight(r.Stderr, "\n")
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error is not one line: %q", what, r.Stderr)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error %q does not mention %q", what, msg, w)
		}
	}
}

// signRequireNothingWritten checks that no write request reached reg after the
// first `before` requests and that repo does not exist.
func signRequireNothingWritten(t *testing.T, reg *registry.Registry, before int, repo string) {
	t.Helper()
	for _, r := range reg.Requests()[before:] {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.Errorf("rejected copy sent %s %s (status %d)", r.Method, r.Path, r.Status)
		}
	}
	if tags := signTags(t, reg, repo); len(tags) != 0 {
		t.Errorf("rejected copy left tags %v in %s", tags, repo)
	}
}

func signFileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestSignGPGCopy signs an image with --sign-by while pushing it and checks
// the signature in the lookaside storage with standalone-verify.
func TestSignGPGCopy(t *testing.T) {
	keys := newSignKeyring(t)
	reg := registry.Start(t, registry.Options{})
	regD, lookaside := signRegistriesD(t, reg, false)
	img := fixture.Busybox(t)

	r := signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Plain, img.Ref(), reg.Ref("signed:1"))
	signRequireOK(t, r, "copy --sign-by")

	dgst := signManifestDigest(t, reg, "signed", "1")
	if dgst == "" {
		t.Fatal("signed:1 was not pushed")
	}
	sig := filepath.Join(lookaside, "signed@"+dgst.Algorithm().String()+"="+dgst.Encoded(), "signature-1")
	if !signFileExists(t, sig) {
		t.Fatalf("no signature at %s", sig)
	}
	manifest := signWrite(t, "manifest.json", string(signManifest(t, reg, "signed", dgst)))
	r = signRun(t, keys.env(), "standalone-verify", manifest, reg.Addr+"/signed:1", keys.Plain, sig)
	signRequireOK(t, r, "standalone-verify of the pushed signature")
	if want := fmt.Sprintf("Signature verified using fingerprint %s, digest %s\n", keys.Plain, dgst); r.Stdout != want {
		t.Errorf("standalone-verify printed %q, want %q", r.Stdout, want)
	}

	t.Run("passphrase file", func(t *testing.T) {
		// The wrong passphrase first: gpg-agent caches a correct one.
		r := signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Protected, "--sign-passphrase-file", keys.WrongFile, img.Ref(), reg.Ref("protected:1"))
		signRequireRejected(t, r, "copy with a wrong passphrase")
		// containers/image signs after uploading the manifest, so the image
		// may be there; a signature must not be.
		if matches, _ := filepath.Glob(filepath.Join(lookaside, "protected@*", "signature-*")); len(matches) != 0 {
			t.Errorf("signatures stored although signing failed: %v", matches)
		}

		r = signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Protected, "--sign-passphrase-file", keys.PassphraseFile, img.Ref(), reg.Ref("protected:1"))
		signRequireOK(t, r, "copy with the passphrase file")
		policy := signPolicy(t, []map[string]any{signRejectAll()}, reg.Addr, signSignedBy(keys.ProtectedPub))
		r = signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref("protected:1"), "dir:"+filepath.Join(t.TempDir(), "out"))
		signRequireOK(t, r, "copy of the image signed with the protected key")
	})

	t.Run("sign identity", func(t *testing.T) {
		r := signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Plain, "--sign-identity", "example.test/app:1", img.Ref(), reg.Ref("ident:1"))
		signRequireOK(t, r, "copy --sign-identity")

		// The signature claims example.test/app:1, not the repository it is in.
		policy := signPolicy(t, []map[string]any{signRejectAll()}, reg.Addr, signSignedBy(keys.PlainPub))
		before := len(reg.Requests())
		r = signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref("ident:1"), reg.Ref("ident-copy:1"))
		signRequireRejected(t, r, "copy of an image signed for another identity", "rejected")
		signRequireNothingWritten(t, reg, before, "ident-copy")

		exact := signSignedBy(keys.PlainPub)
		exact["signedIdentity"] = map[string]any{"type": "exactReference", "dockerReference": "example.test/app:1"}
		policy = signPolicy(t, []map[string]any{signRejectAll()}, reg.Addr, exact)
		r = signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref("ident:1"), "dir:"+filepath.Join(t.TempDir(), "out"))
		signRequireOK(t, r, "copy accepted by an exactReference identity")

		r = signCopy(t, keys.env(), reg, []string{"--insecure-policy"}, "--sign-identity", "example.test/app:1",
			img.Ref(), "dir:"+filepath.Join(t.TempDir(), "unsigned"))
		signRequireRejected(t, r, "--sign-identity without a key", "--sign-identity")
	})
}

// TestPolicyRequirements copies signed and unsigned images out of a registry under
// different trust policies.
func TestPolicyRequirements(t *testing.T) {
	keys := newSignKeyring(t)
	reg := registry.Start(t, registry.Options{})
	regD, _ := signRegistriesD(t, reg, false)
	img := fixture.Busybox(t)

	signRequireOK(t, signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Plain, img.Ref(), reg.Ref("app:signed")), "push signed")
	signRequireOK(t, signCopy(t, keys.env(), reg, []string{"--insecure-policy", "--registries.d", regD}, img.Ref(), reg.Ref("unsigned-app:1")), "push unsigned")

	type outcome int
	const (
		accepted outcome = iota
		rejected
	)
	plainKey, otherKey := signSignedBy(keys.PlainPub), signSignedBy(keys.ProtectedPub)
	for _, tc := range []struct {
		name  string
		def   map[string]any   // the default requirement
		scope string           // a docker scope with its own requirements, or ""
		reqs  []map[string]any // the scope's requirements
		src   string
		want  outcome
		msg   []string // what a rejection must mention
	}{
		{"signedBy accepts signed", signRejectAll(), reg.Addr, []map[string]any{plainKey}, "app:signed", accepted, nil},
		{"signedBy on the repository scope", signRejectAll(), reg.Addr + "/app", []map[string]any{plainKey}, "app:signed", accepted, nil},
		{"signedBy rejects another key", signRejectAll(), reg.Addr, []map[string]any{otherKey}, "app:signed", rejected, []string{"rejected", "signature"}},
		{"signedBy rejects unsigned", signRejectAll(), reg.Addr, []map[string]any{plainKey}, "unsigned-app:1", rejected, []string{"rejected", "signature"}},
		{"all requirements must hold", signRejectAll(), reg.Addr, []map[string]any{plainKey, otherKey}, "app:signed", rejected, []string{"rejected", "signature"}},
		{"reject default refuses signed", signRejectAll(), "", nil, "app:signed", rejected, []string{"rejected"}},
		{"reject default refuses unsigned", signRejectAll(), "", nil, "unsigned-app:1", rejected, []string{"rejected"}},
		{"reject for the registry", signAcceptAnything(), reg.Addr, []map[string]any{signRejectAll()}, "app:signed", rejected, []string{"rejected"}},
		{"insecureAcceptAnything accepts unsigned", signAcceptAnything(), "", nil, "unsigned-app:1", accepted, nil},
		{"insecureAcceptAnything for the registry", signRejectAll(), reg.Addr, []map[string]any{signAcceptAnything()}, "unsigned-app:1", accepted, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := signPolicy(t, []map[string]any{tc.def}, tc.scope, tc.reqs...)
			switch tc.want {
			case accepted:
				out := filepath.Join(t.TempDir(), "out")
				r := signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref(tc.src), "dir:"+out)
				signRequireOK(t, r, "copy")
				if !signFileExists(t, filepath.Join(out, "manifest.json")) {
					t.Fatal("no manifest.json in the destination")
				}
				// Signatures travel with the image unless removed.
				if got, want := signFileExists(t, filepath.Join(out, "signature-1")), tc.src == "app:signed"; got != want {
					t.Errorf("destination has a signature: %v, want %v", got, want)
				}
			case rejected:
				dest := "copy-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
				before := len(reg.Requests())
				r := signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref(tc.src), reg.Ref(dest+":1"))
				signRequireRejected(t, r, "copy", tc.msg...)
				signRequireNothingWritten(t, reg, before, dest)
			}
		})
	}

	t.Run("remove signatures", func(t *testing.T) {
		policy := signPolicy(t, []map[string]any{signRejectAll()}, reg.Addr, signSignedBy(keys.PlainPub))
		out := filepath.Join(t.TempDir(), "out")
		r := signCopy(t, keys.env(), reg, []string{"--policy", policy, "--registries.d", regD}, "--remove-signatures", reg.Ref("app:signed"), "dir:"+out)
		signRequireOK(t, r, "copy --remove-signatures")
		if !signFileExists(t, filepath.Join(out, "manifest.json")) {
			t.Fatal("no manifest.json in the destination")
		}
		if signFileExists(t, filepath.Join(out, "signature-1")) {
			t.Error("--remove-signatures copied a signature")
		}
	})

	t.Run("missing policy file", func(t *testing.T) {
		r := signCopy(t, keys.env(), reg, []string{"--policy", filepath.Join(t.TempDir(), "none.json")}, reg.Ref("app:signed"), "dir:"+filepath.Join(t.TempDir(), "out"))
		signRequireRejected(t, r, "copy with a missing policy file", "none.json")
	})
}

// TestSignSigstore signs with a sigstore key into registry attachments and
// verifies with a sigstoreSigned policy.
func TestSignSigstore(t *testing.T) {
	reg := registry.Start(t, registry.Options{})
	regD, _ := signRegistriesD(t, reg, true)
	img := fixture.Busybox(t)

	const passphrase = "sigstore pass"
	keyDir := t.TempDir()
	writeKeys := func(name string) (priv, pub string) {
		kp, err := sigstore.GenerateKeyPair([]byte(passphrase))
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = filepath.Join(keyDir, name+".key"), filepath.Join(keyDir, name+".pub")
		if err := os.WriteFile(priv, kp.PrivateKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pub, kp.PublicKey, 0o644); err != nil {
			t.Fatal(err)
		}
		return priv, pub
	}
	priv, pub := writeKeys("signer")
	_, otherPub := writeKeys("other")
	passFile := signWrite(t, "passphrase", passphrase+"\n")

	r := signCopy(t, nil, reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by-sigstore-private-key", priv, "--sign-passphrase-file", passFile, img.Ref(), reg.Ref("cosigned:1"))
	signRequireOK(t, r, "copy --sign-by-sigstore-private-key")
	signRequireOK(t, signCopy(t, nil, reg, []string{"--insecure-policy", "--registries.d", regD}, img.Ref(), reg.Ref("plain:1")), "push unsigned")

	dgst := signManifestDigest(t, reg, "cosigned", "1")
	if dgst == "" {
		t.Fatal("cosigned:1 was not pushed")
	}
	sigTag := dgst.Algorithm().String() + "-" + dgst.Encoded() + ".sig"
	if tags := signTags(t, reg, "cosigned"); !slices.Contains(tags, sigTag) {
		t.Fatalf("tags of cosigned: %v, want the attachment tag %s", tags, sigTag)
	}

	sigstoreSigned := func(keyPath string, identity map[string]any) map[string]any {
		req := map[string]any{"type": "sigstoreSigned", "keyPath": keyPath}
		if identity != nil {
			req["signedIdentity"] = identity
		}
		return req
	}
	matchRepo := map[string]any{"type": "matchRepository"}
	for _, tc := range []struct {
		name string
		req  map[string]any
		src  string
		ok   bool
	}{
		{"matchRepository accepts signed", sigstoreSigned(pub, matchRepo), "cosigned:1", true},
		{"default identity accepts signed", sigstoreSigned(pub, nil), "cosigned:1", true},
		{"rejects unsigned", sigstoreSigned(pub, matchRepo), "plain:1", false},
		{"rejects another key", sigstoreSigned(otherPub, matchRepo), "cosigned:1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := signPolicy(t, []map[string]any{signRejectAll()}, reg.Addr, tc.req)
			if tc.ok {
				out := filepath.Join(t.TempDir(), "out")
				r := signCopy(t, nil, reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref(tc.src), "dir:"+out)
				signRequireOK(t, r, "copy")
				if !signFileExists(t, filepath.Join(out, "manifest.json")) || !signFileExists(t, filepath.Join(out, "signature-1")) {
					t.Error("destination lacks the manifest or the sigstore signature")
				}
				return
			}
			dest := "copy-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			before := len(reg.Requests())
			r := signCopy(t, nil, reg, []string{"--policy", policy, "--registries.d", regD}, reg.Ref(tc.src), reg.Ref(dest+":1"))
			signRequireRejected(t, r, "copy", "rejected", "signature")
			signRequireNothingWritten(t, reg, before, dest)
		})
	}

	t.Run("wrong passphrase", func(t *testing.T) {
		r := signCopy(t, nil, reg, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by-sigstore-private-key", priv, "--sign-passphrase-file", signWrite(t, "wrong", "nope\n"),
			img.Ref(), reg.Ref("wrongpass:1"))
		signRequireRejected(t, r, "copy with a wrong sigstore passphrase", priv)
		if signManifestDigest(t, reg, "wrongpass", "1") != "" {
			t.Error("the image was pushed although the key could not be opened")
		}
	})
}

// TestStandaloneSignVerify round-trips standalone-sign and standalone-verify
// on a fixture's manifest.
func TestStandaloneSignVerify(t *testing.T) {
	keys := newSignKeyring(t)
	img := fixture.Busybox(t)
	data, err := os.ReadFile(filepath.Join(img.Dir, "blobs", img.Digest.Algorithm().String(), img.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	manifest := signWrite(t, "manifest.json", string(data))
	const ref = "registry.example.test/busybox:1"
	sig := filepath.Join(t.TempDir(), "busybox.signature")

	r := signRun(t, keys.env(), "standalone-sign", manifest, ref, keys.Plain, "--output", sig)
	signRequireOK(t, r, "standalone-sign")
	if !signFileExists(t, sig) {
		t.Fatal("no signature written")
	}
	verified := fmt.Sprintf("Signature verified using fingerprint %s, digest %s\n", keys.Plain, img.Digest)

	for name, args := range map[string][]string{
		"fingerprint":         {manifest, ref, keys.Plain, sig},
		"fingerprint list":    {manifest, ref, keys.Protected + "," + keys.Plain, sig},
		"public key file":     {"--public-key-file", keys.PlainPub, manifest, ref, keys.Plain, sig},
		"any from a key file": {"--public-key-file", keys.PlainPub, manifest, ref, "any", sig},
	} {
		t.Run("verify by "+name, func(t *testing.T) {
			r := signRun(t, keys.env(), append([]string{"standalone-verify"}, args...)...)
			signRequireOK(t, r, "standalone-verify")
			if r.Stdout != verified {
				t.Errorf("stdout %q, want %q", r.Stdout, verified)
			}
		})
	}

	other := signWrite(t, "other.json", strings.Replace(string(data), "{", "{ ", 1))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"wrong fingerprint":           {[]string{manifest, ref, keys.Protected, sig}, keys.Protected},
		"key file without the signer": {[]string{"--public-key-file", keys.ProtectedPub, manifest, ref, "any", sig}, "signature"},
		"wrong reference":             {[]string{manifest, "registry.example.test/other:1", keys.Plain, sig}, "registry.example.test/other:1"},
		"other manifest":              {[]string{other, ref, keys.Plain, sig}, "digest"},
		"any without a key file":      {[]string{manifest, ref, "any", sig}, "public key file"},
		"missing signature":           {[]string{manifest, ref, keys.Plain, sig + ".missing"}, "signature"},
	} {
		t.Run("reject "+name, func(t *testing.T) {
			r := signRun(t, keys.env(), append([]string{"standalone-verify"}, tc.args...)...)
			signRequireRejected(t, r, "standalone-verify", tc.want)
			if r.Stdout != "" {
				t.Errorf("stdout %q, want nothing", r.Stdout)
			}
		})
	}

	t.Run("passphrase file", func(t *testing.T) {
		sig := filepath.Join(t.TempDir(), "protected.signature")
		r := signRun(t, keys.env(), "standalone-sign", "--passphrase-file", keys.WrongFile, manifest, ref, keys.Protected, "-o", sig)
		signRequireRejected(t, r, "standalone-sign with a wrong passphrase")
		if signFileExists(t, sig) {
			t.Error("a signature was written although signing failed")
		}
		r = signRun(t, keys.env(), "standalone-sign", "--passphrase-file", keys.PassphraseFile, manifest, ref, keys.Protected, "-o", sig)
		signRequireOK(t, r, "standalone-sign --passphrase-file")
		r = signRun(t, keys.env(), "standalone-verify", "--public-key-file", keys.ProtectedPub, manifest, ref, keys.Protected, sig)
		signRequireOK(t, r, "standalone-verify")
		if want := fmt.Sprintf("Signature verified using fingerprint %s, digest %s\n", keys.Protected, img.Digest); r.Stdout != want {
			t.Errorf("stdout %q, want %q", r.Stdout, want)
		}
	})

	t.Run("usage", func(t *testing.T) {
		// transport, like skopeo, exits 1 for command-line errors too.
		r := signRun(t, keys.env(), "standalone-sign", manifest, ref, keys.Plain)
		signRequireRejected(t, r, "standalone-sign without --output", "--output")
		r = signRun(t, keys.env(), "standalone-verify", manifest, ref, keys.Plain)
		signRequireRejected(t, r, "standalone-verify with 3 arguments", "4 argument")
	})
}
