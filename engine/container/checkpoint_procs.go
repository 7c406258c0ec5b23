//go:build !thin

package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ctrProc is one process of a container, as /proc/PID/stat has it.
type ctrProc struct {
	Pid   int
	PPid  int
	State string // "R", "S", "Z"...
	Comm  string
}

func (p ctrProc) String() string { return fmt.Sprintf("%d (%s)", p.Pid, p.Comm) }

func readCtrProc(pid int) (ctrProc, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ctrProc{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return ctrProc{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return ctrProc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return ctrProc{Pid: pid, PPid: ppid, State: f[0], Comm: s[open+1 : end]}, true
}

// containerProcs sorts the processes of a running container into zombies
// (in its init's tree, which CRIU dumps and restores) and processes that
// are not descendants of its init: exec sessions, which runc checkpoint
// would not bring back on restore.
func (e *Engine) containerProcs(ctx context.Context, c *Container) (zombies, execs []ctrProc, err error) {
	pids, err := e.Runtime.Pids(ctx, c.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the processes of %s: %w", c.Name, err)
	}
	procs := map[int]ctrProc{}
	for _, pid := range pids {
		if p, ok := readCtrProc(pid); ok {
			procs[pid] = p
		}
	}
	inTree := func(p ctrProc) bool {
		for seen := 0; seen <= len(procs); seen++ {
			if p.Pid == c.State.Pid {
				return true
			}
			q, ok := procs[p.PPid]
			if !ok {
				return false
			}
			p = q
		}
		return false
	}
	for _, pid := range pids {
		p, ok := procs[pid]
		if !ok {
			continue // gone meanwhile
		}
		if !inTree(p) {
			execs = append(execs, p)
		}
	}
	// Zombies have left the cgroup: walk init's tree for them.
	todo, seen := []int{c.State.Pid}, map[int]bool{}
	for len(todo) > 0 {
		pid := todo[0]
		todo = todo[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if p, ok := readCtrProc(pid); ok && p.State == "Z" {
			zombies = append(zombies, p)
		}
		todo = append(todo, children(pid)...)
	}
	return zombies, execs, nil
}

func procList(ps []ctrProc) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// ErrExecSessions is a checkpoint refused because exec sessions run in
// the container.
var ErrExecSessions = fmt.Errorf("exec sessions are running")

// checkProcs refuses a container with running exec sessions (listing
// their PIDs) and returns its zombies' PIDs, which CRIU handles.
func (e *Engine) checkProcs(ctx context.Context, c *Container) ([]int, error) {
	zombies, execs, err := e.containerProcs(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(execs) > 0 {
		return nil, fmt.Errorf("container %s: %w, PIDs %s: they are not children of the container's init and would be lost by the checkpoint; let them finish or kill them first", c.Name, ErrExecSessions, procList(execs))
	}
	var z []int
	for _, p := range zombies {
		z = append(z, p.Pid)
	}
	return z, nil
}

// children are a process's children, from /proc/PID/task/*/children.
func children(pid int) []int {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
