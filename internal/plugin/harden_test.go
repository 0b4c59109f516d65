package plugin_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
)

// The plugin under a fast-rotating kubelet: while the volume's ..data link
// is swapped and the previous directory removed, as fast as this machine
// can, every read still finds a token.
func TestPluginUnderFastRotatingKubelet(t *testing.T) {
	kl := credentialtest.NewKubelet(t, []byte("key"), time.Hour)
	kl.Rotate(t)
	var stop atomic.Bool
	var swaps atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			kl.Rotate(t)
			swaps.Add(1)
		}
	}()
	calls, failed := 0, 0
	var first string
	// Until the kubelet has swapped 300 times (a loaded machine swaps
	// slower), at most a minute.
	for end := time.Now().Add(time.Minute); swaps.Load() < 300 && time.Now().Before(end); calls++ {
		got := run([]string{"token-file", "--file", kl.Path(), "--audience", "downstream-a"}, fakeEnv{now: time.Now()})
		if got.code != 0 {
			failed++
			if first == "" {
				first = got.stderr
			}
		}
	}
	stop.Store(true)
	<-done
	t.Logf("%d calls during %d swaps", calls, swaps.Load())
	if swaps.Load() < 300 {
		t.Errorf("only %d swaps during %d calls: the test did not race the kubelet", swaps.Load(), calls)
	}
	if failed > 0 {
		t.Errorf("%d of %d calls failed during rotation, first: %s", failed, calls, first)
	}
}

// Whatever KUBERNETES_EXEC_INFO or the path holds, the error is one line of
// printable text of bounded length.
func TestErrorIsOnePrintableLine(t *testing.T) {
	for name, info := range map[string]string{
		"control characters": `{"kind":"ExecCredential","apiVersion":"v1` + "\x00\x1b[31m\u2028\u0085" + `"}`,
		"invalid UTF-8":      `{"kind":"ExecCredential","apiVersion":"` + "\xff\xfe\xc3" + `"}`,
		"line breaks":        "{\"kind\":\n\"ExecCredential\",\r\n\"apiVersion\":\"x\"}",
		"huge":               `{"kind":"ExecCredential","apiVersion":"` + strings.Repeat("v", 1<<20) + `"}`,
		"not JSON":           "\x00\x01\x02",
	} {
		t.Run(name, func(t *testing.T) {
			got := run([]string{"token-file", "--file", "/nonexistent\n/\x00x"}, fakeEnv{vars: map[string]string{credential.ExecInfoEnv: info}})
			line, rest, _ := strings.Cut(got.stderr, "\n")
			if got.code != 1 || rest != "" || got.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want 1, nothing, one line", got.code, got.stdout, got.stderr)
			}
			if !utf8.ValidString(line) || len(line) > 4200 {
				t.Errorf("stderr line is not valid UTF-8 or is %d bytes long", len(line))
			}
			for _, r := range line {
				if !strconv.IsPrint(r) {
					t.Errorf("stderr has the non-printable %U: %q", r, line)
					break
				}
			}
		})
	}
}
