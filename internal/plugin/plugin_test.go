package plugin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// fakeEnv is the environment and the clock of an in-process run.
type fakeEnv struct {
	vars map[string]string
	now  time.Time
}

func (e fakeEnv) Getenv(key string) string { return e.vars[key] }
func (e fakeEnv) Now() time.Time           { return e.now }

func execInfo(apiVersion string) map[string]string {
	return map[string]string{credential.ExecInfoEnv: `{"kind":"ExecCredential","apiVersion":"` + apiVersion + `","spec":{"interactive":false}}` + "\n"}
}

type result struct {
	code           int
	stdout, stderr string
}

func run(args []string, env plugin.Env) result {
	var stdout, stderr bytes.Buffer
	code := plugin.Main(args, env, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokenFile(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dir := t.TempDir()
	kube := credentialtest.Token(credentialtest.Claims("downstream-a", t0, time.Hour))
	good := writeFile(t, dir, "token", kube+"\n")
	noAud := writeFile(t, dir, "no-aud", credentialtest.Token(map[string]any{"exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix()}))

	tests := []struct {
		name string
		args []string
		env  map[string]string
		now  time.Time
		want credential.ExecCredential
	}{
		{
			name: "v1 when KUBERNETES_EXEC_INFO is unset: expires at the rotation point",
			args: []string{"token-file", "--file", good},
			now:  t0.Add(time.Minute),
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(48*time.Minute)),
		},
		{
			name: "v1 as client-go asks",
			args: []string{"token-file", "--file", good},
			env:  execInfo(credential.APIVersionV1),
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(48*time.Minute)),
		},
		{
			name: "v1beta1 as client-go asks",
			args: []string{"token-file", "--file", good},
			env:  execInfo(credential.APIVersionV1beta1),
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1beta1, kube, t0.Add(48*time.Minute)),
		},
		{
			name: "past the rotation point, file not replaced yet: poll",
			args: []string{"token-file", "--file", good},
			now:  t0.Add(50 * time.Minute),
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(50*time.Minute+30*time.Second)),
		},
		{
			name: "--poll-interval",
			args: []string{"token-file", "--file", good, "--poll-interval", "5s"},
			now:  t0.Add(50 * time.Minute),
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(50*time.Minute+5*time.Second)),
		},
		{
			name: "poll never passes exp minus skew",
			args: []string{"token-file", "--file", good},
			now:  t0.Add(59*time.Minute + 40*time.Second),
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(59*time.Minute+50*time.Second)),
		},
		{
			name: "inside the skew, not expired: still served, until exp",
			args: []string{"token-file", "--file", good},
			now:  t0.Add(59*time.Minute + 55*time.Second),
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(time.Hour)),
		},
		{
			name: "--skew caps a short TTL",
			args: []string{"token-file", "--file", good, "--skew", "15m"},
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(45*time.Minute)),
		},
		{
			name: "--audience and --issuer match (single-dash flags too)",
			args: []string{"token-file", "-file=" + good, "--audience=downstream-a", "-issuer", "https://upstream.example.com/issuer"},
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(48*time.Minute)),
		},
		{
			name: "through a symlink, as the kubelet's ..data",
			args: []string{"token-file", "--file", symlink(t, good)},
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1, kube, t0.Add(48*time.Minute)),
		},
		{
			name: "no aud claim and no --audience",
			args: []string{"token-file", "--file", noAud},
			now:  t0,
			want: credential.NewExecCredential(credential.APIVersionV1, credentialtest.Token(map[string]any{"exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix()}), t0.Add(48*time.Minute)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(tt.args, fakeEnv{vars: tt.env, now: tt.now})
			if got.code != 0 || got.stderr != "" {
				t.Fatalf("Main() = %d, stderr %q; want 0 and no stderr", got.code, got.stderr)
			}
			if !strings.HasSuffix(got.stdout, "}\n") || strings.Count(got.stdout, "\n") != 1 {
				t.Errorf("stdout is not one JSON document on one line: %q", got.stdout)
			}
			var cred credential.ExecCredential
			dec := json.NewDecoder(strings.NewReader(got.stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cred); err != nil {
				t.Fatalf("stdout is not an ExecCredential: %v\n%s", err, got.stdout)
			}
			if dec.More() {
				t.Errorf("stdout has more than one document: %q", got.stdout)
			}
			if diff := cmp.Diff(tt.want, cred); diff != "" {
				t.Errorf("ExecCredential mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func symlink(t *testing.T, target string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "federated-token")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestFailures runs every bad input and flag: exit code 1, nothing on stdout,
// exactly one line on stderr that says what to fix, never the token.
func TestFailures(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dir := t.TempDir()
	kube := credentialtest.Token(credentialtest.Claims("downstream-a", t0, time.Hour))
	header, payload, sig := strings.Split(kube, ".")[0], strings.Split(kube, ".")[1], strings.Split(kube, ".")[2]
	good := writeFile(t, dir, "token", kube)
	file := func(name, content string) string { return writeFile(t, dir, name, content) }
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "..2026_01_02_03_04_05.123/token"), dangling); err != nil {
		t.Fatal(err)
	}
	tf := func(path string, more ...string) []string {
		return append([]string{"token-file", "--file", path}, more...)
	}
	prefix := "argocd-k8s-federate-plugin token-file: "

	tests := []struct {
		name string
		args []string
		env  map[string]string
		now  time.Time
		// want are substrings of the one stderr line.
		want []string
	}{
		// The file.
		{name: "missing file", args: tf(filepath.Join(dir, "absent")),
			want: []string{prefix, `read token file "` + filepath.Join(dir, "absent") + `"`, "file does not exist", "projected serviceAccountToken volume is not mounted", "--file"}},
		{name: "dangling symlink (volume half gone)", args: tf(dangling),
			want: []string{dangling, "file does not exist", "not mounted"}},
		{name: "directory instead of file", args: tf(dir),
			want: []string{dir, "is a directory", "--file must name the token file inside the projected volume"}},
		{name: "path through a file", args: tf(filepath.Join(good, "token")),
			want: []string{"not a directory", "check --file"}},
		{name: "empty file", args: tf(file("empty", "")),
			want: []string{"empty", "token is empty", "--file names the wrong file"}},
		{name: "whitespace-only file", args: tf(file("blank", "\n \n")),
			want: []string{"blank", "token is only whitespace", "--file names the wrong file"}},
		{name: "oversized file", args: tf(file("big", strings.Repeat("A", credential.MaxTokenSize+1))),
			want: []string{"big", "larger than 64 KiB", "--file names the wrong file"}},
		{name: "huge file is not read whole", args: tf(file("huge", strings.Repeat("A", 10<<20))),
			want: []string{"larger than 64 KiB"}},

		// Not a JWT.
		{name: "one segment", args: tf(file("one", "not-a-jwt")),
			want: []string{"does not hold a JWT", "1 dot-separated segments", "projected serviceAccountToken file"}},
		{name: "two segments", args: tf(file("two", header+"."+payload)),
			want: []string{"does not hold a JWT", "2 dot-separated segments"}},
		{name: "four segments", args: tf(file("four", kube+".x")),
			want: []string{"does not hold a JWT", "4 dot-separated segments"}},
		{name: "bad base64url", args: tf(file("b64", header+".abcde."+sig)),
			want: []string{"does not hold a JWT", "payload segment is not base64url"}},
		{name: "character outside base64url", args: tf(file("char", header+"."+payload+"."+sig[:5]+"+"+sig[6:])),
			want: []string{"does not hold a JWT", "'+'"}},
		{name: "payload not JSON", args: tf(file("notjson", credentialtest.Token("exp=1"))),
			want: []string{"does not hold a JWT", "payload is not a JSON object"}},
		{name: "claim of the wrong type", args: tf(file("exptype", credentialtest.Token(`{"exp":"tomorrow"}`))),
			want: []string{"does not hold a JWT", `claim "exp" is not a number`}},
		{name: "kubeconfig instead of token", args: tf(file("kubeconfig", "apiVersion: v1\nkind: Config\n")),
			want: []string{"does not hold a JWT"}},

		// The claims.
		{name: "no exp (legacy Secret token)", args: tf(file("noexp", credentialtest.Token(`{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:argocd:argocd"}`))),
			want: []string{"noexp", "no exp claim", "legacy Secret tokens never expire", "projected serviceAccountToken volume"}},
		{name: "expired", args: tf(good), now: t0.Add(time.Hour + 2*time.Minute),
			want: []string{good, "expired at 2026-01-02T04:04:05Z (2m0s ago)", "kubelet is not refreshing it", "projected serviceAccountToken volume"}},
		{name: "expired at exp exactly", args: tf(good), now: t0.Add(time.Hour),
			want: []string{"expired at 2026-01-02T04:04:05Z (0s ago)"}},
		{name: "wrong audience", args: tf(good, "--audience", "downstream-b"),
			want: []string{good, `token is for audience ["downstream-a"], want "downstream-b"`, "another downstream's token", `serviceAccountToken.audience is "downstream-b"`}},
		{name: "no audience in token", args: tf(file("noaud", credentialtest.Token(map[string]any{"exp": t0.Add(time.Hour).Unix()})), "--audience", "downstream-b"),
			want: []string{`token has no aud claim, want "downstream-b"`}},
		{name: "wrong issuer", args: tf(good, "--issuer", "https://other.example.com"),
			want: []string{good, `token was issued by "https://upstream.example.com/issuer", want "https://other.example.com"`, "--issuer"}},
		{name: "no issuer in token", args: tf(file("noiss", credentialtest.Token(map[string]any{"exp": t0.Add(time.Hour).Unix()})), "--issuer", "https://x"),
			want: []string{`token has no iss claim, want "https://x"`}},
		{name: "claim with a newline stays on one line", args: tf(file("nliss", credentialtest.Token(map[string]any{"exp": t0.Add(time.Hour).Unix(), "iss": "a\nb"})), "--issuer", "https://x"),
			want: []string{`issued by "a\nb"`}},

		// KUBERNETES_EXEC_INFO.
		{name: "exec info not JSON", args: tf(good), env: map[string]string{credential.ExecInfoEnv: "v1"},
			want: []string{"KUBERNETES_EXEC_INFO is not a JSON object", "client-go sets it from execProviderConfig", "unset it to run the plugin by hand"}},
		{name: "exec info v1alpha1", args: tf(good), env: execInfo("client.authentication.k8s.io/v1alpha1"),
			want: []string{`KUBERNETES_EXEC_INFO asks for apiVersion "client.authentication.k8s.io/v1alpha1"`, "(apiVersion client.authentication.k8s.io/v1 or v1beta1)"}},
		{name: "exec info other kind", args: tf(good), env: map[string]string{credential.ExecInfoEnv: `{"kind":"Config","apiVersion":"v1"}`},
			want: []string{`KUBERNETES_EXEC_INFO has kind "Config"`}},

		// Flags.
		{name: "unknown flag", args: tf(good, "--token", "x"),
			want: []string{"flag provided but not defined: -token", `run "argocd-k8s-federate-plugin token-file -h" for usage`}},
		{name: "bad duration", args: tf(good, "--skew", "ten"),
			want: []string{`invalid value "ten" for flag -skew`}},
		{name: "negative skew", args: tf(good, "--skew", "-1s"),
			want: []string{"--skew -1s must not be negative"}},
		{name: "poll interval too short", args: tf(good, "--poll-interval", "500ms"),
			want: []string{"--poll-interval 500ms must be at least 1s"}},
		{name: "all flag problems together", args: tf(good, "--poll-interval", "0s", "--skew", "-1s"),
			want: []string{"--poll-interval 0s must be at least 1s; --skew -1s must not be negative"}},
		{name: "empty --file", args: tf(""),
			want: []string{"--file is required", "or --audience alone"}},
		{name: "positional argument", args: []string{"token-file", good},
			want: []string{"unexpected argument", "token-file -h"}},
		{name: "flag missing its value", args: []string{"token-file", "--file"},
			want: []string{"flag needs an argument: -file"}},

		// Commands.
		{name: "no command", args: nil,
			want: []string{"argocd-k8s-federate-plugin: missing command", "help"}},
		{name: "generate lives in the full CLI", args: []string{"generate", "-f", "federation.yaml"},
			want: []string{`argocd-k8s-federate-plugin: unknown command "generate"`, "small plugin build (token-file, token-request, oidc-token, install, version)", "full argocd-k8s-federate CLI"}},
		{name: "flag before command", args: []string{"--file", good, "token-file"},
			want: []string{`unknown flag "--file" before the command`}},
		{name: "install without --to", args: []string{"install"},
			want: []string{"argocd-k8s-federate-plugin install: --to DIR is required"}},
		{name: "install into a missing directory", args: []string{"install", "--to", filepath.Join(dir, "nope")},
			want: []string{"argocd-k8s-federate-plugin install: ", "file does not exist", "emptyDir"}},
		{name: "install onto a file", args: []string{"install", "--to", good},
			want: []string{"is not a directory"}},
		{name: "version with an argument", args: []string{"version", "extra"},
			want: []string{"argocd-k8s-federate-plugin version: unexpected argument"}},
		{name: "help for an unknown command", args: []string{"help", "generate"},
			want: []string{`argocd-k8s-federate-plugin help: unknown command "generate"`, "token-file, token-request, oidc-token, install and version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			got := run(tt.args, fakeEnv{vars: tt.env, now: now})
			if got.code != 1 {
				t.Errorf("exit code = %d, want 1", got.code)
			}
			if got.stdout != "" {
				t.Errorf("stdout = %q, want nothing", got.stdout)
			}
			if strings.Count(got.stderr, "\n") != 1 || !strings.HasSuffix(got.stderr, "\n") || strings.Contains(got.stderr, "\r") {
				t.Errorf("stderr is not exactly one line: %q", got.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.stderr, w) {
					t.Errorf("stderr = %q\nwant it to contain %q", got.stderr, w)
				}
			}
			for _, secret := range []string{kube, payload, sig} {
				if strings.Contains(got.stderr, secret) {
					t.Errorf("stderr contains the token")
				}
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"help"}, want: []string{"Usage:", "token-file", "token-request --audience AUD", "install --to DIR", "full argocd-k8s-federate CLI"}},
		{args: []string{"-h"}, want: []string{"Usage:"}},
		{args: []string{"--help"}, want: []string{"Usage:"}},
		{args: []string{"help", "token-file"}, want: []string{"--file path", "default with --audience: /var/run/secrets/argocd-k8s-federate/<audience>", "--poll-interval duration", "(default 30s)", "--skew duration", "(default 10s)", "execProviderConfig"}},
		{args: []string{"token-file", "-h"}, want: []string{"--audience audience", "--issuer URL"}},
		{args: []string{"token-file", "--help"}, want: []string{"KUBERNETES_EXEC_INFO"}},
		{args: []string{"help", "token-request"}, want: []string{"Usage:\n  argocd-k8s-federate-plugin token-request --audience AUD", "TokenRequest API", "--api-server URL", "$KUBERNETES_SERVICE_HOST", "--expiration-seconds seconds", "(default 3600)", "--ca-file path", "(default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)", "--timeout duration", "execProviderConfig"}},
		{args: []string{"token-request", "--help"}, want: []string{"--service-account-token-file path", "KUBERNETES_EXEC_INFO"}},
		{args: []string{"install", "-h"}, want: []string{"install --to DIR", "--to directory"}},
		{args: []string{"help", "install"}, want: []string{"emptyDir"}},
		{args: []string{"help", "version"}, want: []string{"Usage:\n  argocd-k8s-federate-plugin version"}},
		{args: []string{"version"}, want: []string{"argocd-k8s-federate-plugin dev (commit "}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := run(tt.args, fakeEnv{})
			if got.code != 0 || got.stderr != "" {
				t.Fatalf("Main() = %d, stderr %q; want 0 and no stderr", got.code, got.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.stdout, w) {
					t.Errorf("stdout = %q\nwant it to contain %q", got.stdout, w)
				}
			}
		})
	}
}

// TestInstall installs the running test binary, as the init container
// installs the plugin: the path on stdout, the same bytes, mode 0755.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	got := run([]string{"install", "--to", dir}, fakeEnv{})
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("Main() = %d, stderr %q", got.code, got.stderr)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, filepath.Base(self))
	if got.stdout != want+"\n" {
		t.Errorf("stdout = %q, want %q", got.stdout, want+"\n")
	}
	info, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v, want 0755", info.Mode().Perm())
	}
}

// TestRunAs checks that the full CLI, which runs token-file and
// token-request through Run, gets messages and help that name it.
func TestRunAs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := plugin.Run("argocd-k8s-federate", []string{"token-file", "--file", filepath.Join(t.TempDir(), "absent")}, fakeEnv{}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "argocd-k8s-federate token-file: read token file") {
		t.Errorf("Run() = %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	code = plugin.Run("argocd-k8s-federate", []string{"token-file", "-h"}, fakeEnv{}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "Usage:\n  argocd-k8s-federate token-file [--file PATH]") {
		t.Errorf("Run() = %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	code = plugin.Run("argocd-k8s-federate", []string{"token-request", "--audience", "a"}, fakeEnv{}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "argocd-k8s-federate token-request: KUBERNETES_SERVICE_HOST is not set") {
		t.Errorf("Run() = %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
