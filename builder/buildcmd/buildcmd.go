// Package buildcmd is the build command line that builder build (bud) and
// engine build share: buildah's flags, turned into build.Options.
package buildcmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/containers/image/v5/types"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/build"
	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
)

// Opener opens the store and the working-container manager for a command;
// the returned function closes them.
type Opener func(cmd *cobra.Command) (*container.Manager, func(), error)

// flags are build's command-line options.
type flags struct {
	tags, buildArgs, buildArgFiles               []string
	files                                        []string
	target, pull, format, network, isolation     string
	layers, noCache, squash, quiet, pullAlways   bool
	labels, annotations, envs, unsetEnvs         []string
	secrets, volumes, capAdd, capDrop            []string
	iidfile, ignorefile, from, logfile, platform string
	timestamp                                    int64
	jobs                                         int
	authFile, creds, certDir                     string
	tlsVerify                                    bool
	cacheFrom, cacheTo                           []string
}

// New returns the build command ("build", alias "bud").
func New(open Opener) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:     "build [flags] [CONTEXT]",
		Aliases: []string{"bud", "build-using-dockerfile"},
		Short:   "Build an image from a Containerfile",
		Long: `Build an image from a Containerfile (or Dockerfile) and a context directory
(default: the current directory), with a layer cache: each RUN, COPY and ADD
step is kept as an image and reused when its inputs are unchanged.`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args, open)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.tags, "tag", "t", nil, "`name` of the resulting image (repeatable)")
	fs.StringArrayVarP(&f.files, "file", "f", nil, "`path` of the Containerfile (- for stdin; default: CONTEXT/Containerfile, then Dockerfile)")
	fs.StringArrayVar(&f.buildArgs, "build-arg", nil, "`ARG=value` for the Containerfile's ARG instructions")
	fs.StringArrayVar(&f.buildArgFiles, "build-arg-file", nil, "`file` of ARG=value lines")
	fs.StringVar(&f.target, "target", "", "build the `stage` named (default: the last)")
	fs.BoolVar(&f.layers, "layers", true, "keep an image per step and use the layer cache")
	fs.BoolVar(&f.noCache, "no-cache", false, "build every step anew (the results still fill the cache)")
	fs.StringVar(&f.pull, "pull", "missing", "pull `policy` for base images: always, missing, never, newer")
	fs.BoolVar(&f.pullAlways, "pull-always", false, "same as --pull always")
	fs.StringVar(&f.format, "format", envOr("BUILDAH_FORMAT", "oci"), "image `format`: oci or docker")
	fs.BoolVar(&f.squash, "squash", false, "commit each stage's changes as one layer (no layer cache)")
	fs.StringArrayVar(&f.labels, "label", nil, "set a `label=value` on the image")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "set an `annotation=value` on the image's manifest")
	fs.StringArrayVar(&f.envs, "env", nil, "set `NAME=value` in the image's (and RUN's) environment")
	fs.StringArrayVar(&f.unsetEnvs, "unsetenv", nil, "remove `NAME` from the final image's environment")
	fs.StringVar(&f.network, "network", "host", "network of RUN steps: `mode` host or none")
	fs.StringArrayVar(&f.secrets, "secret", nil, "secret for RUN --mount=type=secret: `id=ID,src=PATH` or id=ID,env=VAR")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount `HOST:CONTAINER[:ro]` into every RUN")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add a `capability` to RUN steps")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop a `capability` from RUN steps")
	fs.StringVar(&f.isolation, "isolation", envOr("BUILDAH_ISOLATION", "oci"), "RUN isolation `type`: oci, rootless or chroot")
	fs.StringVar(&f.iidfile, "iidfile", "", "write the image ID to `file`")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fs.Int64Var(&f.timestamp, "timestamp", -1, "set every creation time to `seconds` since the epoch (reproducible images)")
	fs.StringVar(&f.ignorefile, "ignorefile", "", "`path` of the ignore file (default: CONTEXT/.containerignore, then .dockerignore)")
	fs.StringVar(&f.from, "from", "", "replace the first stage's base `image`")
	fs.IntVar(&f.jobs, "jobs", 1, "build up to `n` independent stages at once")
	fs.StringVar(&f.logfile, "logfile", "", "write the build's output to `file` instead of stdout")
	fs.StringVar(&f.platform, "platform", "", "target `platform` (only the native one can be built)")
	fs.StringVar(&f.authFile, "authfile", "", "path of the authentication `file`")
	fs.StringVar(&f.creds, "creds", "", "`USERNAME[:PASSWORD]` for pulling base images")
	fs.StringVar(&f.certDir, "cert-dir", "", "certificates `dir` for the registry")
	fs.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates when pulling")
	fs.StringArrayVar(&f.cacheFrom, "cache-from", nil, "registry `repository` to read cached layers from")
	fs.StringArrayVar(&f.cacheTo, "cache-to", nil, "registry `repository` to write cached layers to")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// options turns the flags into build options.
func (f *flags) options(cmd *cobra.Command, args []string) (build.Options, error) {
	o := build.Options{
		ContextDir: ".", Tags: f.tags, Target: f.target, Layers: f.layers, NoCache: f.noCache,
		Pull: f.pull, Format: f.format, Squash: f.squash, Labels: f.labels, Annotations: f.annotations,
		Env: f.envs, UnsetEnv: f.unsetEnvs, Network: f.network, Volumes: f.volumes, CapAdd: f.capAdd,
		CapDrop: f.capDrop, Isolation: f.isolation, Quiet: f.quiet, IgnoreFile: f.ignorefile, From: f.from,
		Jobs: f.jobs, BuildArgs: map[string]string{},
	}
	if f.pullAlways {
		o.Pull = "always"
	}
	if len(args) == 1 {
		o.ContextDir = args[0]
	}
	switch len(f.files) {
	case 0:
	case 1:
		o.Containerfile = f.files[0]
		if f.files[0] == "-" {
			b, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return o, fmt.Errorf("reading the Containerfile from stdin: %w", err)
			}
			o.ContainerfileData = b
		}
	default:
		return o, cli.Usage(fmt.Errorf("only one -f is supported"))
	}
	if f.platform != "" {
		if p := "linux/" + nativeArch(); f.platform != p {
			return o, fmt.Errorf("--platform %s: only the native platform %s can be built here", f.platform, p)
		}
	}
	for _, file := range f.buildArgFiles {
		if err := readArgFile(file, o.BuildArgs); err != nil {
			return o, err
		}
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// As buildah: a bare name takes the variable's value.
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue
			}
		}
		o.BuildArgs[k] = v
	}
	for _, s := range f.secrets {
		id, sec, err := build.ParseSecret(s)
		if err != nil {
			return o, cli.Usage(err)
		}
		if o.Secrets == nil {
			o.Secrets = map[string]build.Secret{}
		}
		o.Secrets[id] = sec
	}
	if cmd.Flags().Changed("timestamp") {
		if f.timestamp < 0 {
			return o, cli.Usage(fmt.Errorf("invalid --timestamp %d", f.timestamp))
		}
		t := time.Unix(f.timestamp, 0).UTC()
		o.Timestamp = &t
	}
	o.CacheFrom, o.CacheTo = f.cacheFrom, f.cacheTo
	return o, nil
}

// readArgFile reads KEY=VALUE lines (# comments and blank lines skipped).
func readArgFile(path string, into map[string]string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--build-arg-file: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want ARG=value", path, n)
		}
		into[k] = v
	}
	return sc.Err()
}

func (f *flags) run(cmd *cobra.Command, args []string, open Opener) error {
	o, err := f.options(cmd, args)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.logfile != "" {
		lf, err := os.Create(f.logfile)
		if err != nil {
			return fmt.Errorf("--logfile: %w", err)
		}
		defer lf.Close()
		out = lf
	}
	o.Out = out
	m, closeFn, err := open(cmd)
	if err != nil {
		return err
	}
	defer closeFn()
	m.Sys = f.sys(cmd, m.Sys)
	if !f.quiet {
		m.Progress = cmd.ErrOrStderr()
	}
	res, err := build.Build(cmd.Context(), m, o)
	if err != nil {
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte("sha256:"+res.ImageID), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.ImageID)
	return nil
}

// sys adds the registry flags to the manager's registry options.
func (f *flags) sys(cmd *cobra.Command, o shimage.SystemOptions) shimage.SystemOptions {
	if f.authFile != "" {
		o.AuthFile = f.authFile
	}
	if f.creds != "" {
		o.Creds = f.creds
	}
	if f.certDir != "" {
		o.CertDir = f.certDir
	}
	if cmd.Flags().Changed("tls-verify") {
		o.TLSVerify = types.NewOptionalBool(f.tlsVerify)
	}
	return o
}

func nativeArch() string { return runtime.GOARCH }
