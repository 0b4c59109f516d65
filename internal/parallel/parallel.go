// Package parallel runs independent pieces of work on all CPUs: rendering a
// fleet's downstreams, writing thousands of small files.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Do runs fn(0..n-1) on a few goroutines per CPU and returns when all have
// returned.
func Do(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0)*4, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
