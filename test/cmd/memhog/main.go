// Command memhog holds memory for checkpoint and migration tests: it maps
// -mib MiB, fills every 4 KiB page with a pattern derived from the page's
// number and version, rewrites -dirty percent of the pages every second,
// and ticks every 10 ms recording the longest wall-clock gap between two
// ticks (the time it was frozen). On SIGUSR1 it verifies every page and
// prints one line to stdout:
//
//	memhog: maxgap_ms=812.3 verify=ok mib=512 pages=131072 dirtied=4096
//
// and starts measuring the gap anew. It is built static (CGO_ENABLED=0)
// to run in any container image.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"
)

const pageSize = 4096

type hog struct {
	mem      []byte
	versions []uint32
	next     int // the next page to dirty
	dirtied  uint64
}

// fill writes page p's pattern for version v.
func (h *hog) fill(p int, v uint32) {
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&h.mem[p*pageSize])), pageSize/8)
	x := seed(p, v)
	for i := range words {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		words[i] = x
	}
}

// check reports whether page p holds its pattern.
func (h *hog) check(p int) bool {
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&h.mem[p*pageSize])), pageSize/8)
	x := seed(p, h.versions[p])
	for _, w := range words {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if w != x {
			return false
		}
	}
	return true
}

func seed(p int, v uint32) uint64 {
	return uint64(p)*0x9E3779B97F4A7C15 ^ uint64(v)*0xBF58476D1CE4E5B9 | 1
}

// dirty rewrites n pages, round robin, each with its next version.
func (h *hog) dirty(n int) {
	for range n {
		p := h.next
		h.versions[p]++
		h.fill(p, h.versions[p])
		h.next = (p + 1) % len(h.versions)
	}
	h.dirtied += uint64(n)
}

// verify counts the pages that lost their pattern.
func (h *hog) verify() int {
	bad := 0
	for p := range h.versions {
		if !h.check(p) {
			bad++
		}
	}
	return bad
}

func main() {
	mib := flag.Int("mib", 64, "MiB of memory to hold")
	dirtyPct := flag.Float64("dirty", 5, "percent of the memory rewritten per second")
	tick := flag.Duration("tick", 10*time.Millisecond, "tick interval")
	flag.Parse()

	mem, err := syscall.Mmap(-1, 0, *mib<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		fmt.Fprintf(os.Stderr, "memhog: mapping %d MiB: %v\n", *mib, err)
		os.Exit(1)
	}
	h := &hog{mem: mem, versions: make([]uint32, len(mem)/pageSize)}
	for p := range h.versions {
		h.fill(p, 0)
	}
	// Pages per tick, with the remainder carried so the rate holds.
	perTick := float64(len(h.versions)) * *dirtyPct / 100 * tick.Seconds()
	carry := 0.0

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	fmt.Printf("memhog: ready mib=%d pages=%d dirty=%g%%/s\n", *mib, len(h.versions), *dirtyPct)

	t := time.NewTicker(*tick)
	last := time.Now().Round(0) // wall clock, not the monotonic one
	var maxGap time.Duration
	for {
		select {
		case <-t.C:
			now := time.Now().Round(0)
			if gap := now.Sub(last); gap > maxGap {
				maxGap = gap
			}
			last = now
			carry += perTick
			n := int(carry)
			carry -= float64(n)
			h.dirty(n)
		case <-usr1:
			bad := h.verify()
			status := "ok"
			if bad > 0 {
				status = fmt.Sprintf("bad(%d pages)", bad)
			}
			fmt.Printf("memhog: maxgap_ms=%.1f verify=%s mib=%d pages=%d dirtied=%d\n",
				float64(maxGap.Microseconds())/1000, status, *mib, len(h.versions), h.dirtied)
			maxGap = 0
			last = time.Now().Round(0)
		}
	}
}
