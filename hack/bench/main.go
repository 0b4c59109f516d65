// Command bench times the credential plugin that ArgoCD executes, side by
// side with what it replaces and with the floor of what any process can do,
// on the same token file, each run the way client-go's exec authenticator
// runs a plugin (os/exec, stdout into a buffer, stderr passed through,
// KUBERNETES_EXEC_INFO appended to the environment):
//
//   - plugin: the binary given with -plugin, which must be static and
//     stripped, i.e. built exactly as the image ships it (make bench builds
//     it with the Makefile's flags and passes it);
//   - script: the exec script of a hand-written kubeconfig, `bash -c` with
//     `set -e -o pipefail`, `IDTOKEN=$(cat FILE)` and the heredoc;
//   - floor: hack/bench/floor, built here as a static stripped binary.
//
// Then, unless -token-request=false, the plugin's token-request against a
// real kube-apiserver and etcd started with internal/testenv (the binaries
// built into the cache by scripts/build-kubernetes.sh and build-etcd.sh the
// first time): each exec reads the pod's token, makes a TLS connection and
// a TokenRequest, and prints the ExecCredential. It is timed in rounds of
// its own, after the others, while the API server runs on the same machine.
//
// Rounds alternate the three (rotating which goes first). It prints the
// median wall time of each, the ratios plugin/script and plugin/floor, the
// peak RSS (VmHWM at exit, in separate runs under ptrace; for bash, the
// largest of bash and its children), the binary sizes and the plugin's start-up cost from GODEBUG=inittrace=1, and exits 1
// naming every target missed: plugin/script <= 0.6, plugin/floor <= 1.2, peak
// RSS <= 15 MiB.
//
// Usage: go run ./hack/bench -plugin bin/argocd-k8s-federate-plugin
package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
)

const floorPackage = "github.com/argocd-k8s-federate/argocd-k8s-federate/hack/bench/floor"

// execInfoV1 is KUBERNETES_EXEC_INFO exactly as client-go v0.34 sets it for
// an apiVersion v1 exec provider in InteractiveMode Never.
const execInfoV1 = `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}` + "\n"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	plugin         string
	rounds         int
	warmup         int
	inittraceRuns  int
	rssRuns        int
	maxVsScript    float64
	maxVsFloor     float64
	maxRSSMiB      float64
	allowNonStatic bool
	tokenRequest   bool
	trRounds       int
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.plugin, "plugin", "", "the plugin `binary` to time, built as the image ships it (required)")
	fs.IntVar(&o.rounds, "rounds", 200, "timed rounds; each runs the plugin, the script and the floor once")
	fs.IntVar(&o.warmup, "warmup", 20, "untimed rounds first")
	fs.IntVar(&o.inittraceRuns, "inittrace-runs", 21, "runs of the plugin with GODEBUG=inittrace=1 (median reported)")
	fs.IntVar(&o.rssRuns, "rss-runs", 20, "runs of each under ptrace to read its peak RSS (largest reported)")
	fs.Float64Var(&o.maxVsScript, "max-plugin-script", 0.6, "target: median plugin / median script")
	fs.Float64Var(&o.maxVsFloor, "max-plugin-floor", 1.2, "target: median plugin / median floor")
	fs.Float64Var(&o.maxRSSMiB, "max-rss-mib", 15, "target: the plugin's peak RSS in MiB")
	fs.BoolVar(&o.allowNonStatic, "allow-non-static", false, "time a plugin binary that is not static and stripped (not what the image ships)")
	fs.BoolVar(&o.tokenRequest, "token-request", true, "also time token-request against a real kube-apiserver (internal/testenv)")
	fs.IntVar(&o.trRounds, "token-request-rounds", 100, "timed rounds of token-request, after 10 warm-up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.plugin == "" || fs.NArg() > 0 || o.rounds < 1 || o.warmup < 0 || o.inittraceRuns < 1 || o.rssRuns < 1 || o.trRounds < 1 {
		fmt.Fprintln(stderr, "usage: bench -plugin BINARY [-rounds N] [-warmup N]: build the plugin as the image ships it first (make bench does)")
		return 2
	}
	missed, err := bench(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	for _, m := range missed {
		fmt.Fprintf(stderr, "bench: missed target: %s\n", m)
	}
	if len(missed) > 0 {
		return 1
	}
	return 0
}

// subject is one program timed as client-go would run it.
type subject struct {
	name string
	path string
	args []string
	size string

	wall []time.Duration
	cpu  []time.Duration // user + system
	rss  int64           // peak, KiB
}

func bench(o options, stdout io.Writer) ([]string, error) {
	dir, err := os.MkdirTemp("", "argocd-k8s-federate-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	plugin, err := filepath.Abs(o.plugin)
	if err != nil {
		return nil, err
	}
	if err := checkShipped(plugin); err != nil && !o.allowNonStatic {
		return nil, fmt.Errorf("%s is not built as the image ships it: %w (build it with CGO_ENABLED=0 -trimpath -ldflags \"-s -w\", as make build does)", o.plugin, err)
	}
	floor := filepath.Join(dir, "floor")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", floor, floorPackage)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the floor: %w\n%s", err, out)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, err
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		return nil, err
	}

	tokenFile := filepath.Join(dir, "federated-token")
	token := credentialtest.Token(credentialtest.Claims("downstream-a", time.Now().Truncate(time.Second), time.Hour))
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return nil, err
	}

	subjects := []*subject{
		{name: "token-file", path: plugin, args: []string{"token-file", "--file", tokenFile}, size: fileSize(plugin)},
		{name: "bash script", path: bash, args: []string{"-c", credentialtest.HandWrittenScript(tokenFile)},
			size: "bash " + fileSize(bash) + " + cat " + fileSize(cat)},
		{name: "floor", path: floor, args: []string{tokenFile}, size: fileSize(floor)},
	}
	env := append(os.Environ(), credential.ExecInfoEnv+"="+execInfoV1)

	for _, s := range subjects {
		out, _, _, err := s.exec(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if err := checkOutput(out, token, s.name != "bash script"); err != nil {
			return nil, fmt.Errorf("%s printed a wrong ExecCredential: %w\n%s", s.name, err, out)
		}
	}
	for r := 0; r < o.warmup+o.rounds; r++ {
		for i := range subjects {
			s := subjects[(r+i)%len(subjects)]
			_, wall, cpu, err := s.exec(env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			if r >= o.warmup {
				s.wall = append(s.wall, wall)
				s.cpu = append(s.cpu, cpu)
			}
		}
	}
	for range o.rssRuns {
		for _, s := range subjects {
			rss, err := peakRSS(s.path, s.args, env)
			if err != nil {
				return nil, fmt.Errorf("%s: peak RSS: %w", s.name, err)
			}
			s.rss = max(s.rss, rss)
		}
	}
	initPlugin, nInit, err := initTrace(plugin, subjects[0].args, env, o.inittraceRuns)
	if err != nil {
		return nil, err
	}
	initFloor, _, err := initTrace(floor, subjects[2].args, env, o.inittraceRuns)
	if err != nil {
		return nil, err
	}

	rows := subjects
	var tr *subject
	if o.tokenRequest {
		if tr, err = benchTokenRequest(o, plugin, dir, env); err != nil {
			return nil, err
		}
		rows = append([]*subject{subjects[0], tr}, subjects[1:]...)
	}

	p, sc, fl := subjects[0], subjects[1], subjects[2]
	vsScript := float64(median(p.wall)) / float64(median(sc.wall))
	vsFloor := float64(median(p.wall)) / float64(median(fl.wall))
	peak := float64(p.rss) / 1024

	fmt.Fprintf(stdout, "credential plugin benchmark: %d rounds after %d warm-up, alternating; token %d bytes; %s; %d CPUs; %s\n",
		o.rounds, o.warmup, len(token), strings.TrimSpace(strings.ReplaceAll(execInfoV1, "\n", "")), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(stdout, "%-16s %10s %10s %10s %10s %12s  %s\n", "", "median", "p10", "p90", "CPU", "peak RSS", "binary")
	for _, s := range rows {
		fmt.Fprintf(stdout, "%-16s %10s %10s %10s %10s %8.1f MiB  %s\n", s.name,
			ms(median(s.wall)), ms(percentile(s.wall, 10)), ms(percentile(s.wall, 90)), ms(median(s.cpu)), float64(s.rss)/1024, s.size)
	}
	fmt.Fprintln(stdout, "(wall times; CPU is the median user+system time of the process and its children)")
	if tr != nil {
		fmt.Fprintf(stdout, "token-request: %d rounds after 10 warm-up against kube-apiserver on this machine, each a TLS connection and a TokenRequest; %s more than token-file per exec (wall), %s more CPU in the plugin\n",
			len(tr.wall), ms(median(tr.wall)-median(p.wall)), ms(median(tr.cpu)-median(p.cpu)))
	}
	fmt.Fprintf(stdout, "plugin: %s\n", o.plugin)
	fmt.Fprintf(stdout, "plugin init (GODEBUG=inittrace=1, sum of %d package inits, median of %d runs): %s; floor: %s\n",
		nInit, o.inittraceRuns, ms(initPlugin), ms(initFloor))

	var missed []string
	check := func(name string, got, limit float64, unit string) {
		verdict := "ok"
		if got > limit {
			verdict = "MISSED"
			missed = append(missed, fmt.Sprintf("%s = %.2f%s > %.2f%s", name, got, unit, limit, unit))
		}
		fmt.Fprintf(stdout, "%-16s %6.2f%-4s target <= %.2f%s  %s\n", name, got, unit, limit, unit, verdict)
	}
	check("plugin/script", vsScript, o.maxVsScript, "")
	check("plugin/floor", vsFloor, o.maxVsFloor, "")
	check("plugin peak RSS", peak, o.maxRSSMiB, " MiB")
	fmt.Fprintf(stdout, "(not targets, but steadier than wall time on a busy machine: CPU plugin/script %.2f, plugin/floor %.2f)\n",
		float64(median(p.cpu))/float64(median(sc.cpu)), float64(median(p.cpu))/float64(median(fl.cpu)))
	return missed, nil
}

// exec runs s once as client-go does and returns its stdout, wall time and
// CPU time.
func (s *subject) exec(env []string) ([]byte, time.Duration, time.Duration, error) {
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: s.path, Args: append([]string{s.path}, s.args...), Env: env, Stdout: &out, Stderr: os.Stderr}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, 0, 0, err
	}
	return out.Bytes(), wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// checkShipped reports a binary that is not static and stripped.
func checkShipped(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("it is dynamically linked")
		}
	}
	if f.Section(".symtab") != nil {
		return errors.New("it is not stripped")
	}
	return nil
}

// checkOutput checks an ExecCredential: the token, and an expiry if wanted.
func checkOutput(out []byte, token string, wantExpiry bool) error {
	var c struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Status     struct {
			Token               string `json:"token"`
			ExpirationTimestamp string `json:"expirationTimestamp"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		return err
	}
	switch {
	case c.APIVersion != credential.APIVersionV1 || c.Kind != credential.Kind:
		return fmt.Errorf("apiVersion %q kind %q", c.APIVersion, c.Kind)
	case c.Status.Token != token:
		return errors.New("the token is not the file's")
	case wantExpiry && c.Status.ExpirationTimestamp == "":
		return errors.New("no expirationTimestamp")
	}
	return nil
}

// initTrace runs path with GODEBUG=inittrace=1 and returns the median over
// runs of the sum of the package init times, and the number of packages.
func initTrace(path string, args, env []string, runs int) (time.Duration, int, error) {
	var sums []time.Duration
	var n int
	for range runs {
		var stderr bytes.Buffer
		cmd := &exec.Cmd{Path: path, Args: append([]string{path}, args...), Env: slices.Concat(env, []string{"GODEBUG=inittrace=1"}), Stdout: io.Discard, Stderr: &stderr}
		if err := cmd.Run(); err != nil {
			return 0, 0, fmt.Errorf("%s with inittrace: %w\n%s", path, err, stderr.Bytes())
		}
		var sum time.Duration
		n = 0
		// init internal/godebug @1.5 ms, 0.54 ms clock, 312 bytes, 7 allocs
		for _, line := range strings.Split(stderr.String(), "\n") {
			f := strings.Fields(line)
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			v, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				return 0, 0, fmt.Errorf("parse inittrace line %q: %w", line, err)
			}
			sum += time.Duration(v * float64(time.Millisecond))
			n++
		}
		if n == 0 {
			return 0, 0, fmt.Errorf("%s printed no inittrace lines", path)
		}
		sums = append(sums, sum)
	}
	return median(sums), n, nil
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func fileSize(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	if info.Size() < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(info.Size())/1024)
	}
	return fmt.Sprintf("%.2f MiB", float64(info.Size())/(1<<20))
}
