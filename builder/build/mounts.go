package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocisuite/suite/builder/copier"
)

// mountFromRefs are the stages or images RUN --mount from= names.
func mountFromRefs(c *instructions.RunCommand) []string {
	var out []string
	for _, m := range instructions.GetMounts(c) {
		if m.From != "" {
			out = append(out, m.From)
		}
	}
	return out
}

// mountsKey is what RUN's mounts add to its cache key: their settings and
// the content of bind-mounted context files.
func (st *stage) mountsKey(mounts []*instructions.Mount) (string, error) {
	var parts []string
	for _, m := range mounts {
		parts = append(parts, jsonString(m))
		if m.Type == instructions.MountTypeBind {
			if m.From == "" {
				src := m.Source
				if src == "" {
					src = "."
				}
				d, err := copier.Digest(st.b.o.ContextDir, []string{src}, copier.Options{Ignore: st.b.ignore})
				if err != nil {
					return "", fmt.Errorf("RUN --mount source %s: %w", src, err)
				}
				parts = append(parts, d)
			} else {
				id, err := st.fromImage(context.Background(), m.From)
				if err != nil {
					return "", err
				}
				parts = append(parts, id)
			}
		}
	}
	return cacheKey("", parts...), nil
}

// runMounts sets up RUN --mount=type=bind|cache|tmpfs|secret.
func (st *stage) runMounts(ctx context.Context, mounts []*instructions.Mount, tmp string) ([]specs.Mount, func(), error) {
	var out []specs.Mount
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	for i, m := range mounts {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			wd := st.cfg.Config.WorkingDir
			if wd == "" {
				wd = "/"
			}
			target = path.Join(wd, target)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			if target == "" {
				return out, cleanup, fmt.Errorf("RUN --mount=type=bind needs a target")
			}
			root := st.b.o.ContextDir
			if m.From != "" {
				id, err := st.fromImage(ctx, m.From)
				if err != nil {
					return out, cleanup, err
				}
				mp, err := st.b.m.Store.MountImage(id, nil, "")
				if err != nil {
					return out, cleanup, fmt.Errorf("mounting %s: %w", m.From, err)
				}
				cleanups = append(cleanups, func() { _, _ = st.b.m.Store.UnmountImage(id, false) })
				root = mp
			}
			src, err := securejoin.SecureJoin(root, m.Source)
			if err != nil {
				return out, cleanup, err
			}
			if _, err := os.Stat(src); err != nil {
				return out, cleanup, fmt.Errorf("RUN --mount source %q: %w", m.Source, err)
			}
			opts := []string{"rbind", "ro"}
			cp := filepath.Join(tmp, fmt.Sprintf("bind-%d", i))
			switch {
			case m.From == "" && st.b.ignore.File() != "":
				// The context as the build sees it, without the files
				// the ignore file leaves out (as the cache key).
				if err := os.Mkdir(cp, 0o700); err != nil {
					return out, cleanup, err
				}
				source := m.Source
				if source == "" {
					source = "."
				}
				if err := copier.Copy(root, []string{source}, cp, "/m", copier.Options{Ignore: st.b.ignore}); err != nil {
					return out, cleanup, fmt.Errorf("RUN --mount source %q: %w", m.Source, err)
				}
				src = filepath.Join(cp, "m")
				if !m.ReadOnly {
					opts = []string{"rbind", "rw"}
				}
			case !m.ReadOnly:
				// Writes are allowed but thrown away: mount a copy.
				if err := copyTree(src, cp); err != nil {
					return out, cleanup, err
				}
				src, opts = cp, []string{"rbind", "rw"}
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts})
		case instructions.MountTypeCache:
			if target == "" {
				return out, cleanup, fmt.Errorf("RUN --mount=type=cache needs a target")
			}
			id := m.CacheID
			if id == "" {
				id = target
			}
			sum := sha256.Sum256([]byte(id))
			dir := filepath.Join(st.b.m.Store.GraphRoot(), "builder", "cache", hex.EncodeToString(sum[:16]))
			if _, err := os.Stat(dir); os.IsNotExist(err) {
				mode := os.FileMode(0o755)
				if m.Mode != nil {
					mode = os.FileMode(*m.Mode)
				}
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return out, cleanup, err
				}
				if err := os.Chmod(dir, mode); err != nil {
					return out, cleanup, err
				}
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				if err := os.Lchown(dir, uid, gid); err != nil {
					return out, cleanup, err
				}
			}
			opts := []string{"rbind", "rw"}
			if m.ReadOnly {
				opts[1] = "ro"
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: dir, Options: opts})
		case instructions.MountTypeTmpfs:
			if target == "" {
				return out, cleanup, fmt.Errorf("RUN --mount=type=tmpfs needs a target")
			}
			opts := []string{"nosuid", "nodev"}
			if m.SizeLimit > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", m.SizeLimit))
			}
			out = append(out, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			if m.Env != nil && target == "" {
				continue // only a variable (secretEnv)
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			data, ok, err := st.secret(id)
			if err != nil {
				return out, cleanup, err
			}
			if !ok {
				if m.Required {
					return out, cleanup, fmt.Errorf("secret %q is required but not given (--secret id=%s,src=FILE)", id, id)
				}
				continue
			}
			p := filepath.Join(tmp, "secret-"+fmt.Sprint(i))
			mode := os.FileMode(0o400)
			if m.Mode != nil {
				mode = os.FileMode(*m.Mode)
			}
			if err := os.WriteFile(p, data, mode); err != nil {
				return out, cleanup, err
			}
			uid, gid := 0, 0
			if m.UID != nil {
				uid = int(*m.UID)
			}
			if m.GID != nil {
				gid = int(*m.GID)
			}
			if err := os.Lchown(p, uid, gid); err != nil {
				return out, cleanup, err
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: p, Options: []string{"rbind", "ro"}})
		default:
			return out, cleanup, fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
		}
	}
	return out, cleanup, nil
}

// secret reads a --secret's content.
func (st *stage) secret(id string) ([]byte, bool, error) {
	s, ok := st.b.o.Secrets[id]
	if !ok {
		return nil, false, nil
	}
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, false, fmt.Errorf("secret %q: variable %s is not set", id, s.Env)
		}
		return []byte(v), true, nil
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, false, fmt.Errorf("secret %q: %w", id, err)
	}
	return b, true, nil
}

// secretEnv gives secrets mounted as variables (--mount=type=secret,env=).
func (st *stage) secretEnv(mounts []*instructions.Mount) ([]string, error) {
	var out []string
	for _, m := range mounts {
		if m.Type != instructions.MountTypeSecret || m.Env == nil {
			continue
		}
		id := m.CacheID
		if id == "" {
			id = path.Base(m.Target)
		}
		data, ok, err := st.secret(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			if m.Required {
				return nil, fmt.Errorf("secret %q is required but not given", id)
			}
			continue
		}
		name := *m.Env
		if name == "" {
			name = id
		}
		out = append(out, name+"="+string(data))
	}
	return out, nil
}

// copyTree copies src (a file or directory) to dst with cp -a.
func copyTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return runCmd("cp", "-a", src, dst)
}
