// Package testenv runs real Kubernetes control planes for tests: etcd and
// kube-apiserver processes built from the pinned module versions
// (scripts/versions.env), each API server with its own certificate authority,
// service-account issuer and signing key, on loopback ports.
//
// It links only the standard library, so tests in any module of the
// repository can use it whatever client-go version they build their clients
// with: it hands out URLs, CA bundles and kubeconfig files.
//
// Env.Federate is the one set-up of a federation on these control planes:
// the config of each upstream, generate, a downstream started with the
// generated AuthenticationConfiguration and the generated RBAC applied. What
// needs more than the standard library, running the CLI and reading YAML,
// the test passes in.
//
// StartHydra runs Ory Hydra beside them: an OpenID provider with JWT
// access tokens, a login the test drives, and the JWT-bearer grant for
// service-account tokens.
//
// Nothing is skipped: when a binary cannot be built or a process does not
// become ready, the test fails with the reason and the path of the logs.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the repository root: the first parent of the working
// directory that holds scripts/versions.env.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "versions.env")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/versions.env not found above the working directory")
		}
		dir = parent
	}
}

// Versions reads scripts/versions.env.
func Versions() (map[string]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "scripts", "versions.env"))
	if err != nil {
		return nil, err
	}
	v := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, val, ok := strings.Cut(line, "="); ok {
			v[k] = val
		}
	}
	return v, nil
}

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
)

// Binary returns the path of a pinned binary: "kube-apiserver" (and the
// other Kubernetes binaries), "etcd" or "hydra". $KUBE_APISERVER / $ETCD /
// $HYDRA override; otherwise scripts/build-kubernetes.sh,
// scripts/build-etcd.sh or scripts/build-hydra.sh builds it into the cache
// (or finds it there) and prints its directory.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPaths[name]; ok {
		return p
	}
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if p := os.Getenv(env); p != "" {
		binPaths[name] = p
		return p
	}
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("find %s: %v", name, err)
	}
	script, args := "build-kubernetes.sh", []string{name}
	switch name {
	case "etcd":
		script, args = "build-etcd.sh", nil
	case "hydra":
		script, args = "build-hydra.sh", nil
	}
	start := time.Now()
	cmd := exec.Command(filepath.Join(root, "scripts", script), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("scripts/%s %s failed (%v); its output:\n%s", script, strings.Join(args, " "), err, tail(stderr.String(), 40))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	p := filepath.Join(lines[len(lines)-1], name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("scripts/%s did not produce %s: %v", script, p, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		tb.Logf("built %s in %v", name, d.Round(time.Second))
	}
	binPaths[name] = p
	return p
}

// Dir is a directory for one test's control planes: kept, and its path
// printed, when the test fails; removed otherwise.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "argocd-k8s-federate-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("control-plane logs and files kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is one running binary with its log file.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(tb testing.TB, name, logFile, bin string, args ...string) *process {
	tb.Helper()
	return startProcessEnv(tb, name, logFile, nil, bin, args...)
}

// startProcessEnv is startProcess with the environment env (the test's
// when nil).
func startProcessEnv(tb testing.TB, name, logFile string, env []string, bin string, args ...string) *process {
	tb.Helper()
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, and killed with the test binary if that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		tb.Fatalf("start %s (%s): %v", name, bin, err)
	}
	p := &process{name: name, log: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	tb.Cleanup(p.stop)
	return p
}

// stop terminates the process (SIGTERM, then SIGKILL) and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// waitReady polls ready until it returns nil, failing the test with the log
// tail when the process exits or the deadline passes.
func (p *process) waitReady(tb testing.TB, timeout time.Duration, ready func(context.Context) error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if ended, err := p.exited(); ended {
			tb.Fatalf("%s exited while starting (%v); log %s:\n%s", p.name, err, p.log, tailFile(p.log, 30))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = ready(ctx)
		cancel()
		if last == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	tb.Fatalf("%s not ready after %v (last: %v); log %s:\n%s", p.name, timeout, last, p.log, tailFile(p.log, 30))
}

// startTimeout scales with the machine: API servers start in seconds on an
// idle machine and take much longer on two loaded cores.
func startTimeout() time.Duration {
	if runtime.NumCPU() <= 2 {
		return 4 * time.Minute
	}
	return 2 * time.Minute
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func writeFile(tb testing.TB, path string, data []byte, mode os.FileMode) {
	tb.Helper()
	must(tb, os.MkdirAll(filepath.Dir(path), 0o755))
	must(tb, os.WriteFile(path, data, mode))
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
