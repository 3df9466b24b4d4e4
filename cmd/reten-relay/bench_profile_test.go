package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// profileOnSignals lets a benchmark profile the relay subprocess over a chosen stretch
// (RETEN_BENCH_PROFILE=dir): SIGUSR1 starts a CPU profile, SIGUSR2 stops it and writes a
// heap profile next to it (cpu.pprof, heap.pprof in dir; heap0.pprof is the heap at the start, for -diff_base).
// With fromStart the CPU profile starts at once, before `run` (RETEN_BENCH_PROFILE_SYNC: the
// first sync, which begins as the process starts).
func profileOnSignals(dir string, fromStart bool) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	start := func() *os.File {
		writeHeap(filepath.Join(dir, "heap0.pprof"))
		f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
		if err != nil || pprof.StartCPUProfile(f) != nil {
			return nil
		}
		return f
	}
	var cpu *os.File
	if fromStart {
		cpu = start()
	}
	go func() {
		for sig := range ch {
			switch {
			case sig == syscall.SIGUSR1 && cpu == nil:
				cpu = start()
			case sig == syscall.SIGUSR2 && cpu != nil:
				pprof.StopCPUProfile()
				_ = cpu.Close()
				cpu = nil
				writeHeap(filepath.Join(dir, "heap.pprof"))
				_ = os.WriteFile(filepath.Join(dir, "done"), nil, 0o600)
			}
		}
	}()
}

func writeHeap(path string) {
	runtime.GC()
	if f, err := os.Create(path); err == nil {
		_ = pprof.WriteHeapProfile(f)
		_ = f.Close()
	}
}
