package imagesync

import "sync"

// memo computes one value per key, once, for the concurrent jobs of a
// sync: the first job to ask computes it, the others wait for it.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*memoEntry[V]
}

type memoEntry[V any] struct {
	once sync.Once
	v    V
	err  error
}

// get returns the value for k, computed with f on first use.
func (m *memo[K, V]) get(k K, f func() (V, error)) (V, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[K]*memoEntry[V]{}
	}
	e, ok := m.m[k]
	if !ok {
		e = &memoEntry[V]{}
		m.m[k] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.v, e.err = f() })
	return e.v, e.err
}

// each calls f with every value computed without error so far; call it
// once the jobs are done.
func (m *memo[K, V]) each(f func(V)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.m {
		if e.err == nil {
			f(e.v)
		}
	}
}
