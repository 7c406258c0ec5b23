package imagesync

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMemoComputesOncePerKey(t *testing.T) {
	var m memo[string, int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := []string{"a", "b"}[i%2]
			v, err := m.get(k, func() (int, error) {
				calls.Add(1)
				return len(k) + 10, nil
			})
			if err != nil || v != 11 {
				t.Errorf("get(%s) = %d, %v", k, v, err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("computed %d times for 2 keys", n)
	}
	boom := errors.New("boom")
	if _, err := m.get("c", func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("error not kept: %v", err)
	}
	if _, err := m.get("c", func() (int, error) { return 1, nil }); !errors.Is(err, boom) {
		t.Fatalf("a failed key was computed again: %v", err)
	}
	var seen []int
	m.each(func(v int) { seen = append(seen, v) })
	if len(seen) != 2 {
		t.Fatalf("each saw %v, want the two values computed without error", seen)
	}
}
