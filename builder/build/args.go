package build

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/sirupsen/logrus"
)

// predefinedArgs are the platform arguments every build has (as BuildKit
// defines them) and the proxy variables usable without an ARG.
func predefinedArgs() map[string]string {
	goos, arch, variant := nativePlatform()
	platform := goos + "/" + arch
	if variant != "" {
		platform += "/" + variant
	}
	return map[string]string{
		"TARGETPLATFORM": platform, "TARGETOS": goos, "TARGETARCH": arch, "TARGETVARIANT": variant,
		"BUILDPLATFORM": platform, "BUILDOS": goos, "BUILDARCH": arch, "BUILDVARIANT": variant,
	}
}

// proxyArgs may be given with --build-arg without being declared.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// globalArgs evaluates the ARGs before the first FROM.
func (b *builder) globalArgs(metaArgs []instructions.ArgCommand) error {
	b.meta = predefinedArgs()
	for k := range b.meta {
		b.metaKeys = append(b.metaKeys, k)
	}
	sort.Strings(b.metaKeys)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			key, err := b.lex().ProcessWordWithMatches(kv.Key, mapEnv(b.meta))
			if err != nil {
				return fmt.Errorf("%s: ARG %s: %w", b.file, kv.Key, err)
			}
			name := key.Result
			val, has := b.o.BuildArgs[name]
			if has {
				b.markUsed(name)
			} else if kv.Value != nil {
				r, err := b.lex().ProcessWordWithMatches(*kv.Value, mapEnv(b.meta))
				if err != nil {
					return fmt.Errorf("%s: ARG %s: %w", b.file, kv.Key, err)
				}
				val, has = r.Result, true
			}
			if !slices.Contains(b.metaKeys, name) {
				b.metaKeys = append(b.metaKeys, name)
			}
			if has {
				b.meta[name] = val
			} else {
				delete(b.meta, name)
			}
		}
	}
	return nil
}

func (b *builder) lex() *shell.Lex { return shell.NewLex(b.escape) }

func (b *builder) markUsed(name string) {
	b.mu.Lock()
	b.used[name] = true
	b.mu.Unlock()
}

// expandMeta expands a FROM or --from reference with the global args.
func (b *builder) expandMeta(word string) string {
	r, err := b.lex().ProcessWordWithMatches(word, mapEnv(b.meta))
	if err != nil {
		return word
	}
	for k := range r.Matched {
		if _, ok := b.o.BuildArgs[k]; ok {
			b.markUsed(k)
		}
	}
	return r.Result
}

// warnUnusedArgs warns about --build-arg values no ARG consumed.
func (b *builder) warnUnusedArgs() {
	var unused []string
	for k := range b.o.BuildArgs {
		if !b.used[k] && !slices.Contains(proxyArgs, k) {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		logrus.Warnf("one or more build args were not consumed: %v", unused)
		b.printf("[Warning] one or more build args were not consumed: %v\n", unused)
	}
}

// scope is the ARGs declared in a stage so far, in order, with values.
type scope struct {
	names  []string
	values map[string]string
	set    map[string]bool
}

func newScope() *scope { return &scope{values: map[string]string{}, set: map[string]bool{}} }

// declare handles ARG name[=default] in a stage: a --build-arg wins, then
// the default, then a global ARG of the same name.
func (b *builder) declare(sc *scope, env []string, a instructions.KeyValuePairOptional) error {
	name := a.Key
	val, has := b.o.BuildArgs[name]
	if has {
		b.markUsed(name)
	} else if a.Value != nil {
		r, err := b.lex().ProcessWordWithMatches(*a.Value, b.envGetter(sc, env))
		if err != nil {
			return err
		}
		val, has = r.Result, true
	} else if v, ok := b.meta[name]; ok {
		val, has = v, true
	}
	if !slices.Contains(sc.names, name) {
		sc.names = append(sc.names, name)
	}
	if has {
		sc.values[name] = val
		sc.set[name] = true
	} else {
		delete(sc.values, name)
		delete(sc.set, name)
	}
	return nil
}

// runEnv are the ARG values a RUN sees as variables (not kept in the
// image), those the image's ENV sets excluded, plus proxy build args.
func (sc *scope) runEnv(env []string, buildArgs map[string]string) []string {
	var out []string
	for _, n := range sc.names {
		if !sc.set[n] || hasEnv(env, n) {
			continue
		}
		out = append(out, n+"="+sc.values[n])
	}
	for _, p := range proxyArgs {
		if v, ok := buildArgs[p]; ok && !slices.Contains(sc.names, p) {
			out = append(out, p+"="+v)
		}
	}
	return out
}

// envGetter is what words are expanded with: the stage's ENV over its
// ARGs.
func (b *builder) envGetter(sc *scope, env []string) shell.EnvGetter {
	m := map[string]string{}
	for _, n := range sc.names {
		if sc.set[n] {
			m[n] = sc.values[n]
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return mapEnv(m)
}

func hasEnv(env []string, name string) bool {
	return slices.ContainsFunc(env, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == name })
}

// setEnv sets name=value in env.
func setEnv(env []string, name, value string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			out[i] = name + "=" + value
			return out
		}
	}
	return append(out, name+"="+value)
}

// mapEnv is a shell.EnvGetter over a map.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
