package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// The pod token-request runs in, in the benchmark's API server.
const (
	trNamespace = "argocd"
	trSA        = "argocd-application-controller"
	trPod       = "argocd-application-controller-0"
)

// tokenRequestBench is a real etcd and kube-apiserver (internal/testenv),
// with the service account, a Pending pod of it, the pod's own token in a
// file as the kubelet mounts it, and the Role that lets it request tokens.
type tokenRequestBench struct {
	h       *harness
	subject *subject
}

// startTokenRequest starts the control plane and returns the token-request
// subject; close stops it.
func startTokenRequest(pluginPath, dir string, env []string, log io.Writer) (*tokenRequestBench, error) {
	b := &tokenRequestBench{h: &harness{ctx: context.Background(), log: log}}
	err := b.h.run(func() {
		start := time.Now()
		e := testenv.NewEnv(b.h)
		up := testenv.StartAPIServer(b.h, e.Dir, e.Etcd, testenv.APIServerConfig{Name: "up"})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		must := func(err error) {
			if err != nil {
				b.h.Fatal(err)
			}
		}
		must(up.CreateServiceAccount(ctx, trNamespace, trSA))
		tokenFile := filepath.Join(dir, "serviceaccount", "token")
		_, err := up.StartPod(ctx, trNamespace, trPod, trSA, tokenFile)
		must(err)
		must(up.CreateTokenRequestRole(ctx, trNamespace, trSA, plugin.TokenRequestRoleName(trSA)))
		b.subject = &subject{
			name: "token-request",
			path: pluginPath,
			args: []string{"token-request", "--audience", "downstream-a",
				"--api-server", up.URL, "--ca-file", up.CAFile, "--service-account-token-file", tokenFile},
			size: fileSize(pluginPath),
		}
		// The Role is in force once the authorizer's informer has it.
		var last error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			var out []byte
			if out, last = b.subject.execQuiet(env); last == nil {
				last = checkTokenRequestOutput(out, "downstream-a")
				break
			}
		}
		must(last)
		fmt.Fprintf(log, "bench: kube-apiserver %s ready for token-request in %v\n", up.URL, time.Since(start).Round(time.Second))
	})
	if err != nil {
		b.close()
		return nil, fmt.Errorf("start the API server for token-request: %w", err)
	}
	return b, nil
}

func (b *tokenRequestBench) close() { b.h.close() }

// execQuiet runs s once, its stderr in the error.
func (s *subject) execQuiet(env []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{Path: s.path, Args: append([]string{s.path}, s.args...), Env: env, Stdout: &stdout, Stderr: &stderr}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", s.name, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// checkTokenRequestOutput checks an ExecCredential of token-request: a
// token for the audience, an expiry.
func checkTokenRequestOutput(out []byte, audience string) error {
	var c credential.ExecCredential
	if err := json.Unmarshal(out, &c); err != nil {
		return err
	}
	tok, err := credential.ParseToken([]byte(c.Status.Token))
	switch {
	case err != nil:
		return fmt.Errorf("the token: %w", err)
	case !tok.Claims.HasAudience(audience):
		return fmt.Errorf("the token is for %q, not %q", tok.Claims.Audience, audience)
	case c.Status.ExpirationTimestamp == "":
		return errors.New("no expirationTimestamp")
	}
	return nil
}

// harness lets internal/testenv, written for tests, start a control plane
// here: it has the testing.TB methods testenv calls (the embedded nil
// interface would panic on any other). Fatal stops the set-up, which run
// returns as an error.
type harness struct {
	testing.TB
	ctx      context.Context
	log      io.Writer
	cleanups []func()
	failed   bool
}

type harnessFailure string

func (h *harness) Helper()                  {}
func (h *harness) Context() context.Context { return h.ctx }
func (h *harness) Cleanup(f func())         { h.cleanups = append(h.cleanups, f) }
func (h *harness) Failed() bool             { return h.failed }
func (h *harness) Logf(format string, args ...any) {
	fmt.Fprintf(h.log, "bench: "+format+"\n", args...)
}
func (h *harness) Fatal(args ...any) {
	h.failed = true
	panic(harnessFailure(fmt.Sprint(args...)))
}
func (h *harness) Fatalf(format string, args ...any) {
	h.failed = true
	panic(harnessFailure(fmt.Sprintf(format, args...)))
}

// run calls f and returns its Fatal as an error.
func (h *harness) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(harnessFailure)
			if !ok {
				panic(r)
			}
			err = errors.New(string(msg))
		}
	}()
	f()
	return nil
}

// close runs the cleanups, last first: the processes stop, the directory
// goes (kept, and named, after a failure).
func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
}

// benchTokenRequest starts the API server, times token-request as client-go
// would run it, reads its peak RSS, and stops the API server.
func benchTokenRequest(o options, pluginPath, dir string, env []string) (*subject, error) {
	b, err := startTokenRequest(pluginPath, dir, env, os.Stderr)
	if err != nil {
		return nil, err
	}
	defer b.close()
	s := b.subject
	for r := 0; r < 10+o.trRounds; r++ {
		out, wall, cpu, err := s.exec(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if r == 0 {
			if err := checkTokenRequestOutput(out, "downstream-a"); err != nil {
				return nil, fmt.Errorf("%s printed a wrong ExecCredential: %w", s.name, err)
			}
		}
		if r >= 10 {
			s.wall = append(s.wall, wall)
			s.cpu = append(s.cpu, cpu)
		}
	}
	for range min(o.rssRuns, 5) {
		rss, err := peakRSS(s.path, s.args, env)
		if err != nil {
			return nil, fmt.Errorf("%s: peak RSS: %w", s.name, err)
		}
		s.rss = max(s.rss, rss)
	}
	return s, nil
}
