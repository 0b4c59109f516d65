//go:build e2e

package kind

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/log"
)

// phase is the wall time of one part of the run.
type phase struct {
	name string
	d    time.Duration
	ok   bool
}

// timed runs one setup phase and records its wall time, also when it fails
// (t.Fatal unwinds through the deferred record).
func (e *env) timed(name string, fn func()) {
	start := time.Now()
	e.t.Logf("phase %q ...", name)
	ok := false
	defer func() {
		d := time.Since(start)
		e.phases = append(e.phases, phase{name, d, ok})
		status := "done"
		if !ok {
			status = "FAILED"
		}
		e.t.Logf("phase %q %s in %v", name, status, d.Round(100*time.Millisecond))
	}()
	fn()
	ok = true
}

// step runs one named assertion as a subtest and records its wall time.
func (e *env) step(name string, fn func(t *testing.T)) {
	start := time.Now()
	ok := e.t.Run(name, fn)
	e.phases = append(e.phases, phase{"step " + name, time.Since(start), ok})
}

func (e *env) printPhases(total time.Duration) {
	var b strings.Builder
	b.WriteString("wall time per phase:\n")
	for _, p := range e.phases {
		status := "ok"
		if !p.ok {
			status = "FAILED"
		}
		fmt.Fprintf(&b, "  %8s  %-6s  %s\n", p.d.Round(100*time.Millisecond), status, p.name)
	}
	fmt.Fprintf(&b, "  %8s          total", total.Round(100*time.Millisecond))
	e.t.Log(b.String())
}

// exportLogs writes what explains a failure into <work>/logs: kind's own
// export of every node (journals, containerd, kubelet, pod logs), and
// ArgoCD's pods, Applications and events through kubectl.
func (e *env) exportLogs() {
	dir := filepath.Join(e.work, "logs")
	for _, name := range e.created {
		if err := e.provider.CollectLogs(name, filepath.Join(dir, name)); err != nil {
			e.t.Logf("kind export logs %s: %v", name, err)
		}
	}
	write := func(file, content string) {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err == nil {
			_ = os.WriteFile(file, []byte(content), 0o644)
		}
	}
	if e.up.kubeconfig != "" {
		out, _, _ := e.runKubectl(e.up, "", "-n", argocdNS, "get", "pods", "-o", "name")
		for _, pod := range strings.Fields(out) {
			name := strings.TrimPrefix(pod, "pod/")
			write(filepath.Join(dir, "argocd", name+".log"),
				e.kubectlAllowFail(e.up, "-n", argocdNS, "logs", pod, "--all-containers", "--prefix", "--timestamps")+
					e.kubectlAllowFail(e.up, "-n", argocdNS, "logs", pod, "--all-containers", "--prefix", "--previous"))
		}
		write(filepath.Join(dir, "argocd", "describe-pods.txt"), e.kubectlAllowFail(e.up, "-n", argocdNS, "describe", "pods"))
		write(filepath.Join(dir, "argocd", "applications.yaml"), e.kubectlAllowFail(e.up, "-n", argocdNS, "get", "applications", "-o", "yaml"))
		write(filepath.Join(dir, "up-events.txt"), e.kubectlAllowFail(e.up, "get", "events", "-A"))
		write(filepath.Join(dir, "git-server.log"), e.kubectlAllowFail(e.up, "-n", gitNS, "logs", "deploy/git"))
	}
	if e.down.kubeconfig != "" {
		write(filepath.Join(dir, "down-objects.txt"), e.kubectlAllowFail(e.down, "get", "all,configmaps,rolebindings", "-A"))
		write(filepath.Join(dir, "down-events.txt"), e.kubectlAllowFail(e.down, "get", "events", "-A"))
		write(filepath.Join(dir, "down-kube-apiserver.log"), e.downAPIServerLog(2000))
	}
	e.t.Logf("logs exported to %s", dir)
}

// kindLogger sends kind's messages to the test log.
type kindLogger struct{ t *testing.T }

func (l kindLogger) Warn(message string)                  { l.t.Log("kind: WARNING: " + message) }
func (l kindLogger) Warnf(format string, args ...any)     { l.Warn(fmt.Sprintf(format, args...)) }
func (l kindLogger) Error(message string)                 { l.t.Log("kind: ERROR: " + message) }
func (l kindLogger) Errorf(format string, args ...any)    { l.Error(fmt.Sprintf(format, args...)) }
func (l kindLogger) V(level log.Level) log.InfoLogger     { return kindInfoLogger{l.t, level <= 0} }
func (l kindInfoLogger) Info(message string)              { l.log(message) }
func (l kindInfoLogger) Infof(format string, args ...any) { l.log(fmt.Sprintf(format, args...)) }
func (l kindInfoLogger) Enabled() bool                    { return l.enabled }

type kindInfoLogger struct {
	t       *testing.T
	enabled bool
}

func (l kindInfoLogger) log(message string) {
	if l.enabled {
		l.t.Log("kind: " + strings.TrimRight(message, "\n"))
	}
}
