package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// peakRSS runs path under ptrace and returns the largest VmHWM, in KiB, of
// the process and of every process it forks (bash's cat), each read from
// /proc/PID/status when it is about to exit.
//
// rusage's maxrss cannot be used for this: Go starts children with
// vfork-style clone, and on execve the kernel carries the parent's RSS high
// water mark into the child's maxrss, so every child of this program would
// report at least this program's own RSS.
func peakRSS(path string, args, env []string) (int64, error) {
	runtime.LockOSThread() // the tracer is the thread that started the process
	defer runtime.UnlockOSThread()

	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	proc, err := os.StartProcess(path, append([]string{path}, args...), &os.ProcAttr{
		Env:   env,
		Files: []*os.File{devnull, devnull, os.Stderr},
		Sys:   &syscall.SysProcAttr{Ptrace: true},
	})
	if err != nil {
		return 0, err
	}
	pid := proc.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return 0, fmt.Errorf("wait for exec stop: %w", err)
	}
	if !ws.Stopped() {
		return 0, fmt.Errorf("%s did not stop after exec (%v)", path, ws)
	}
	const opts = syscall.PTRACE_O_TRACEEXIT | syscall.PTRACE_O_TRACEFORK | syscall.PTRACE_O_TRACEVFORK |
		syscall.PTRACE_O_TRACECLONE | 0x100000 /* PTRACE_O_EXITKILL */
	if err := syscall.PtraceSetOptions(pid, opts); err != nil {
		return 0, fmt.Errorf("ptrace options: %w", err)
	}
	if err := syscall.PtraceCont(pid, 0); err != nil {
		return 0, err
	}

	var peak int64
	exitCode := -1
loop:
	for {
		wpid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if err != nil {
			return 0, err
		}
		switch {
		case ws.Exited():
			if wpid == pid {
				// Its children (bash's cat) have exited before it. Waiting
				// for ECHILD instead would wait for every other child of
				// this program too: the API server token-request runs on.
				exitCode = ws.ExitStatus()
				break loop
			}
			continue
		case ws.Signaled():
			if wpid == pid {
				return 0, fmt.Errorf("%s killed by %v", path, ws.Signal())
			}
			continue
		case !ws.Stopped():
			continue
		}
		sig := ws.StopSignal()
		deliver := 0
		switch {
		case sig == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			hwm, err := vmHWM(wpid)
			if err != nil {
				return 0, err
			}
			peak = max(peak, hwm)
		case sig == syscall.SIGTRAP, sig == syscall.SIGSTOP:
			// fork/clone events, the post-exec trap of a traced child, and
			// the initial stop of a newly attached child: not real signals.
		default:
			deliver = int(sig) // e.g. bash's SIGCHLD
		}
		if err := syscall.PtraceCont(wpid, deliver); err != nil && !errors.Is(err, syscall.ESRCH) {
			return 0, err
		}
	}
	if exitCode != 0 {
		return 0, fmt.Errorf("%s exited with %d", path, exitCode)
	}
	return peak, nil
}

// vmHWM reads the peak resident set size, in KiB, of a process.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
