//go:build !thin

package imagestore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containers/image/v5/docker/reference"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/image/v5/tarball"
	"github.com/containers/image/v5/types"
	"github.com/containers/storage"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	shimage "github.com/ocisuite/suite/shared/image"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Reference names the new image ("" for none).
	Reference string
	// Changes are Containerfile instructions applied to the configuration:
	// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
	// VOLUME, WORKDIR.
	Changes []string
	// Message is the history comment.
	Message string
	// OS, Arch and Variant set the platform (default: this machine's).
	OS, Arch, Variant string
	Progress          io.Writer
	// TmpDir holds a downloaded tarball ("" for the system default).
	TmpDir string
}

// Import creates a one-layer image from a filesystem tarball (plain or
// compressed): a path, or an http(s) URL. It returns the new image.
func Import(ctx context.Context, s storage.Store, source string, o ImportOptions) (*storage.Image, error) {
	var named reference.Named
	if o.Reference != "" {
		var err error
		if named, err = NormalizeName(o.Reference); err != nil {
			return nil, err
		}
	}
	cfg := imgspecv1.Image{}
	cfg.OS, cfg.Architecture, cfg.Variant = o.OS, o.Arch, o.Variant
	if err := ApplyChanges(&cfg.Config, o.Changes); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	cfg.Created = &now
	if o.Message != "" {
		cfg.History = []imgspecv1.History{{Comment: o.Message}}
	}
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		p, cleanup, err := download(ctx, source, o.TmpDir)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		source = p
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("importing %s: %w", source, err)
	}
	src, err := tarball.Transport.ParseReference(abs)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", source, err)
	}
	updater, ok := src.(tarball.ConfigUpdater)
	if !ok {
		return nil, fmt.Errorf("internal error: tarball reference cannot update its configuration")
	}
	if err := updater.ConfigUpdate(cfg, nil); err != nil {
		return nil, err
	}
	var dst types.ImageReference
	if named != nil {
		dst, err = istorage.Transport.NewStoreReference(s, named, "")
	} else {
		dst, err = tempNameRef(s)
	}
	if err != nil {
		return nil, err
	}
	if _, err := shimage.Copy(ctx, src, dst, shimage.CopyOptions{InsecurePolicy: true, Progress: o.Progress}); err != nil {
		return nil, err
	}
	_, img, err := istorage.ResolveReference(dst)
	if err != nil {
		return nil, fmt.Errorf("finding the imported image: %w", err)
	}
	if named == nil {
		if err := dropTempName(s, img); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// download fetches url into a temporary file.
func download(ctx context.Context, url, tmpDir string) (string, func(), error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("downloading %s: %s", url, resp.Status)
	}
	f, err := os.CreateTemp(tmpDir, "engine-import-*.tar")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.Remove(f.Name()) }
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		cleanup()
		return "", nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

// ApplyChanges applies Containerfile-style instructions ("CMD ls",
// `ENTRYPOINT ["/bin/sh"]`, "ENV A=1 B=2", "LABEL k=v", "EXPOSE 80/tcp",
// "USER u", "WORKDIR /d", "VOLUME /v", "STOPSIGNAL TERM") to c, as
// podman's --change does.
func ApplyChanges(c *imgspecv1.ImageConfig, changes []string) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		instr, arg, _ := strings.Cut(ch, " ")
		if i := strings.IndexAny(ch, " ="); i > 0 && ch[i] == '=' {
			instr, arg = ch[:i], ch[i+1:]
		}
		arg = strings.TrimSpace(arg)
		bad := func(why string) error {
			return fmt.Errorf("invalid change %q: %s", ch, why)
		}
		if arg == "" {
			return bad("no value")
		}
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = commandForm(arg)
		case "ENTRYPOINT":
			c.Entrypoint = commandForm(arg)
		case "ENV":
			kvs, err := keyValues(arg)
			if err != nil {
				return bad(err.Error())
			}
			for _, kv := range kvs {
				c.Env = setEnv(c.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := keyValues(arg)
			if err != nil {
				return bad(err.Error())
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				c.Labels[kv[0]] = kv[1]
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "USER":
			c.User = arg
		case "WORKDIR":
			if !strings.HasPrefix(arg, "/") && c.WorkingDir != "" {
				arg = filepath.Join(c.WorkingDir, arg)
			}
			c.WorkingDir = arg
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			var vols []string
			if json.Unmarshal([]byte(arg), &vols) != nil {
				vols = strings.Fields(arg)
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		case "STOPSIGNAL":
			c.StopSignal = arg
		default:
			return bad("want CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR")
		}
	}
	return nil
}

// commandForm parses the JSON (exec) form, or wraps the shell form in
// /bin/sh -c.
func commandForm(arg string) []string {
	var argv []string
	if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", arg}
}

// keyValues parses "K=V K2=V2" (values may be double-quoted) or the legacy
// "K V" form.
func keyValues(arg string) ([][2]string, error) {
	if !strings.Contains(strings.Fields(arg)[0], "=") {
		k, v, _ := strings.Cut(arg, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range splitQuoted(arg) {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitQuoted splits on spaces outside double quotes and drops the quotes.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
