package oci

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitNames = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
	"as": unix.RLIMIT_AS,
}

// ParseUlimit parses "name=soft[:hard]" (-1 for unlimited) into an OCI
// rlimit. A hard limit above the caller's own hard limit is an error, since
// raising it needs CAP_SYS_RESOURCE, which the caller may lack; "host" is
// not a limit and gives (nil, nil): the caller's limits are inherited.
func ParseUlimit(s string) (*specs.POSIXRlimit, error) {
	if s == "host" {
		return nil, nil
	}
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return nil, fmt.Errorf("invalid ulimit %q: want name=soft[:hard]", s)
	}
	res, ok := rlimitNames[strings.ToLower(strings.TrimPrefix(strings.ToLower(name), "rlimit_"))]
	if !ok {
		return nil, fmt.Errorf("invalid ulimit %q: unknown resource %q", s, name)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := parseLimit(softS)
	if err != nil {
		return nil, fmt.Errorf("invalid ulimit %q: %w", s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit(hardS); err != nil {
			return nil, fmt.Errorf("invalid ulimit %q: %w", s, err)
		}
	}
	if soft > hard {
		return nil, fmt.Errorf("invalid ulimit %q: soft limit %d is above hard limit %d", s, soft, hard)
	}
	var cur unix.Rlimit
	if err := unix.Getrlimit(res, &cur); err == nil && hard > cur.Max {
		return nil, fmt.Errorf("ulimit %q: hard limit %s is above the current hard limit %s (raising it needs CAP_SYS_RESOURCE)", s, limitString(hard), limitString(cur.Max))
	}
	return &specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(strings.TrimPrefix(strings.ToLower(name), "rlimit_")), Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return unix.RLIM_INFINITY, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limit %q is not a number", s)
	}
	return n, nil
}

func limitString(n uint64) string {
	if n == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}
