package container

import (
	"context"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UpdateOptions are the resources update changes; nil leaves one as is.
type UpdateOptions struct {
	Memory     *int64 // bytes
	MemorySwap *int64 // bytes, -1 unlimited; default twice Memory
	CPUs       *float64
	CPUShares  *uint64
	CpusetCpus *string
	PidsLimit  *int64 // -1 or 0 for unlimited
}

const cpuPeriod = 100000

// Update changes a container's resource limits: in its record (inspect,
// and every later start, see them) and, when it runs, in its cgroup.
func (e *Engine) Update(ctx context.Context, id string, o UpdateOptions) (*Container, error) {
	c, unlock, err := e.acquireOp(ctx, id, "update")
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := c.Resources
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if o.Memory != nil || o.MemorySwap != nil {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if o.Memory != nil {
			if *o.Memory <= 0 {
				return nil, errors.New("--memory must be positive")
			}
			r.Memory.Limit = o.Memory
		}
		switch {
		case o.MemorySwap != nil:
			if r.Memory.Limit == nil {
				return nil, errors.New("--memory-swap needs a memory limit")
			}
			if *o.MemorySwap != -1 && *o.MemorySwap < *r.Memory.Limit {
				return nil, errors.New("--memory-swap must be at least --memory")
			}
			r.Memory.Swap = o.MemorySwap
		case r.Memory.Swap == nil || *r.Memory.Swap != -1:
			swap := 2 * *r.Memory.Limit // podman's default
			r.Memory.Swap = &swap
		}
	}
	if o.CPUs != nil || o.CPUShares != nil || o.CpusetCpus != nil {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if o.CPUs != nil {
			if *o.CPUs < 0 {
				return nil, errors.New("--cpus must not be negative")
			}
			period := uint64(cpuPeriod)
			quota := int64(*o.CPUs * cpuPeriod)
			if *o.CPUs == 0 {
				quota = -1
			}
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
		if o.CPUShares != nil {
			r.CPU.Shares = o.CPUShares
		}
		if o.CpusetCpus != nil {
			r.CPU.Cpus = *o.CpusetCpus
		}
	}
	if o.PidsLimit != nil {
		limit := *o.PidsLimit
		if limit == 0 {
			limit = -1
		}
		r.Pids = &specs.LinuxPids{Limit: limit}
	}
	if c.Running() {
		if err := e.Runtime.Update(ctx, c.ID, r); err != nil {
			return nil, fmt.Errorf("updating the resources of %s: %w", c.Name, err)
		}
	}
	c.Resources = r
	if err := e.saveConfig(c.Config); err != nil {
		return nil, err
	}
	e.event(c, "update")
	return c, nil
}
