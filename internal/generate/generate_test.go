package generate

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

var update = flag.Bool("update", false, "rewrite the golden trees (and manifests/) from the current generator")

// goldenCases are configs whose whole generated tree is checked in.
var goldenCases = []struct {
	name   string
	files  []string
	golden string
}{
	{"minimal", []string{"testdata/minimal/federation.yaml"}, "testdata/minimal/golden"},
	{"multi-hub", []string{"testdata/multi-hub/hub-a.yaml", "testdata/multi-hub/hub-b.yaml"}, "testdata/multi-hub/golden"},
	{"preinstalled-shared", []string{"testdata/preinstalled-shared/federation.yaml"}, "testdata/preinstalled-shared/golden"},
	{"token-request", []string{"testdata/token-request/federation.yaml"}, "testdata/token-request/golden"},
	{"token-request-only", []string{"testdata/token-request-only/federation.yaml"}, "testdata/token-request-only/golden"},
	{"identity-provider-jwt", []string{"testdata/identity-provider-jwt/federation.yaml"}, "testdata/identity-provider-jwt/golden"},
	{"identity-provider-client", []string{"testdata/identity-provider-client/federation.yaml"}, "testdata/identity-provider-client/golden"},
	{"people", []string{"testdata/people/federation.yaml"}, "testdata/people/golden"},
	{"people-shared", []string{"testdata/people-shared/federation.yaml"}, "testdata/people-shared/golden"},
	// The shipped example's tree is manifests/: what a reader looks at.
	{"example", []string{"../../examples/federation.yaml"}, "../../manifests"},
}

// set checks federations together, as the CLI does before generating.
func set(t testing.TB, feds ...*config.Federation) *config.Set {
	t.Helper()
	s, err := config.NewSet(feds)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func load(t testing.TB, files ...string) []*config.Federation {
	t.Helper()
	var feds []*config.Federation
	for _, f := range files {
		fed, err := config.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		feds = append(feds, fed)
	}
	return feds
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Generate(context.Background(), set(t, load(t, tc.files...)...))
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := WriteDir(context.Background(), tc.golden, tree); err != nil {
					t.Fatal(err)
				}
			}
			diffs, err := Check(context.Background(), tc.golden, tree)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				msg := fmt.Sprintf("%s: %s", d.What, d.Path)
				if d.What == "changed" {
					old, _ := os.ReadFile(filepath.Join(tc.golden, d.Path))
					msg += "\n" + cmp.Diff(string(old), string(fileContent(tree, d.Path)))
				}
				t.Errorf("%s (run go test ./internal/generate -update to accept)", msg)
			}
		})
	}
}

func fileContent(t *Tree, path string) []byte {
	for _, f := range t.Files {
		if f.Path == path {
			return f.Content
		}
	}
	return nil
}

// TestDeterministic: the order of downstreams and of files given does not
// change a byte of the output.
func TestDeterministic(t *testing.T) {
	a, err := Generate(context.Background(), set(t, load(t, "testdata/multi-hub/hub-a.yaml", "testdata/multi-hub/hub-b.yaml")...))
	if err != nil {
		t.Fatal(err)
	}
	feds := load(t, "testdata/multi-hub/hub-b.yaml", "testdata/multi-hub/hub-a.yaml")
	for _, f := range feds {
		slices.Reverse(f.Downstreams)
		for i := range f.Downstreams {
			slices.Reverse(f.Downstreams[i].Access.Namespaces)
		}
	}
	b, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("output depends on input order (-a +b):\n%s", diff)
	}
}

func TestEveryYAMLFileParses(t *testing.T) {
	for _, tc := range goldenCases {
		tree, err := Generate(context.Background(), set(t, load(t, tc.files...)...))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range tree.Files {
			if !bytes.HasPrefix(f.Content, []byte(Header)) && !strings.HasSuffix(f.Path, ".crt") && !strings.HasSuffix(f.Path, ".md") {
				t.Errorf("%s/%s: no generated-file header", tc.name, f.Path)
			}
			if !strings.HasSuffix(f.Path, ".yaml") {
				continue
			}
			for i, doc := range strings.Split(string(f.Content), "\n---\n") {
				var obj map[string]any
				if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
					t.Errorf("%s/%s document %d: %v", tc.name, f.Path, i, err)
				}
				if (obj["apiVersion"] == nil || obj["kind"] == nil) && path.Base(f.Path) != HelmValuesFile {
					t.Errorf("%s/%s document %d has no apiVersion/kind", tc.name, f.Path, i)
				}
				if strings.Contains(doc, "null") || strings.Contains(doc, "{}") {
					t.Errorf("%s/%s document %d has empty or null values:\n%s", tc.name, f.Path, i, doc)
				}
			}
		}
	}
}

func TestWriteDir(t *testing.T) {
	tree, err := Generate(context.Background(), set(t, load(t, "testdata/minimal/federation.yaml")...))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")

	// A new directory.
	if err := WriteDir(context.Background(), dir, tree); err != nil {
		t.Fatal(err)
	}
	if diffs, err := Check(context.Background(), dir, tree); err != nil || len(diffs) != 0 {
		t.Fatalf("fresh tree differs: %v %v", diffs, err)
	}

	// A file of an earlier run that this one does not write (a downstream
	// removed from the config) and edited files disappear on the next run.
	earlier := &Tree{Files: append(slices.Clone(tree.Files), fileio.File{Path: "downstream/gone/kustomization.yaml", Content: []byte("x")})}
	if err := WriteDir(context.Background(), dir, earlier); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "upstream", "hub", "kustomization.yaml")
	if err := os.WriteFile(edited, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "downstream", "prod", "rbac-hub.yaml")); err != nil {
		t.Fatal(err)
	}
	diffs, err := Check(context.Background(), dir, tree)
	if err != nil {
		t.Fatal(err)
	}
	want := []fileio.Difference{
		{Path: "downstream/gone/kustomization.yaml", What: "extra"},
		{Path: "downstream/prod/rbac-hub.yaml", What: "missing"},
		{Path: "upstream/hub/kustomization.yaml", What: "changed"},
	}
	if diff := cmp.Diff(want, diffs); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if err := WriteDir(context.Background(), dir, tree); err != nil {
		t.Fatal(err)
	}
	if diffs, err := Check(context.Background(), dir, tree); err != nil || len(diffs) != 0 {
		t.Fatalf("rewritten tree differs: %v %v", diffs, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".out.new-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary trees left behind: %v", leftovers)
	}

	// A file someone put there (a config kept in the output) is never
	// deleted: the run is refused and writes nothing.
	config := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(config, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteDir(context.Background(), dir, tree)
	if err == nil || !strings.Contains(err.Error(), "holds files argocd-k8s-federate did not write (federation.yaml)") {
		t.Fatalf("want a refusal naming federation.yaml, got %v", err)
	}
	if b, err := os.ReadFile(config); err != nil || string(b) != "keep me" {
		t.Fatalf("the operator's file was touched: %q %v", b, err)
	}
}

func TestWriteDirRefusesForeignDirectory(t *testing.T) {
	tree, err := Generate(context.Background(), set(t, load(t, "testdata/minimal/federation.yaml")...))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteDir(context.Background(), dir, tree)
	if err == nil || !strings.Contains(err.Error(), "was not written by argocd-k8s-federate") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != "keep me" {
		t.Fatalf("the operator's file was touched: %q %v", b, err)
	}

	file := filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(context.Background(), file, tree); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("want a refusal for a file, got %v", err)
	}
}

func TestWriteStream(t *testing.T) {
	tree, err := Generate(context.Background(), set(t, load(t, "../../examples/federation.yaml")...))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteStream(&b, tree); err != nil {
		t.Fatal(err)
	}
	sources := 0
	for _, doc := range strings.Split(b.String(), "\n---\n") {
		var obj any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("stream document does not parse: %v\n%s", err, doc)
		}
		if strings.HasPrefix(doc, "# Source: ") {
			sources++
		}
	}
	if sources != len(tree.Files) {
		t.Errorf("stream has %d sources, tree %d files", sources, len(tree.Files))
	}
}

// fleet builds a federation of n downstreams, each with its own audience.
func fleet(tb testing.TB, n int) *config.Federation {
	tb.Helper()
	ca, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		tb.Fatal(err)
	}
	f := &config.Federation{
		APIVersion: config.APIVersion, Kind: config.Kind,
		Upstream: config.Upstream{
			Name: "hub", Issuer: "https://hub.example.com",
			CertificateAuthority: config.CertificateAuthority{CA: string(ca)},
		},
	}
	for i := range n {
		name := fmt.Sprintf("cluster-%04d", i)
		f.Downstreams = append(f.Downstreams, config.Downstream{
			Name: name, Server: "https://" + name + ".example.com:6443",
			CertificateAuthority: config.CertificateAuthority{CA: string(ca)},
			Access:               config.Access{Namespaces: []string{"apps", "web"}},
		})
	}
	if err := f.Complete(); err != nil {
		tb.Fatal(err)
	}
	return f
}

// BenchmarkGenerate1000 renders the tree of 1,000 downstreams (target:
// under 1 s and 200 MiB peak RSS), then writes it. Writing is reported on
// its own: its cost is the file system's (9,000 small files; on a virtual
// disk that is seconds of metadata work whatever writes them), so it is
// measured on tmpfs (/dev/shm) when there is one, and on the disk.
func BenchmarkGenerate1000(b *testing.B) {
	f := fleet(b, 1000)
	b.Run("render", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := Generate(context.Background(), set(b, f)); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		perOp := total / time.Duration(b.N)
		rss := peakRSS(b)
		b.ReportMetric(rss, "peak-RSS-MiB")
		if perOp > time.Second {
			b.Errorf("rendering 1,000 downstreams took %v; target < 1s", perOp)
		}
		if rss > 200 {
			b.Errorf("peak RSS %.0f MiB; target < 200 MiB", rss)
		}
	})
	tree, err := Generate(context.Background(), set(b, f))
	if err != nil {
		b.Fatal(err)
	}
	dirs := map[string]string{"disk": b.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "generate-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	for name, dir := range dirs {
		b.Run("write-"+name, func(b *testing.B) {
			out := filepath.Join(dir, "out")
			for b.Loop() {
				if err := WriteDir(context.Background(), out, tree); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tree.Files)), "files")
		})
	}
}

// BenchmarkGenerate10000TokenRequest renders the tree of 10,000
// downstreams on the TokenRequest source (target: under 2 s and 500 MiB
// peak RSS) and checks that the ArgoCD pod patches are the same bytes as
// for one downstream: the pod templates do not grow with the fleet.
func BenchmarkGenerate10000TokenRequest(b *testing.B) {
	one, f := fleet(b, 1), fleet(b, 10000)
	for _, fed := range []*config.Federation{one, f} {
		fed.Upstream.Token.Source = config.SourceTokenRequest
		for i := range fed.Downstreams {
			fed.Downstreams[i].TokenSource = config.SourceTokenRequest
		}
	}
	var tree *Tree
	b.Run("render", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			tree = nil // one tree at a time, as the CLI holds it
			start := time.Now()
			var err error
			if tree, err = Generate(context.Background(), set(b, f)); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		perOp := total / time.Duration(b.N)
		rss := peakRSS(b)
		b.ReportMetric(rss, "peak-RSS-MiB")
		b.ReportMetric(float64(len(tree.Files)), "files")
		if perOp > 2*time.Second {
			b.Errorf("rendering 10,000 downstreams took %v; target < 2s", perOp)
		}
		if rss > 500 {
			b.Errorf("peak RSS %.0f MiB; target < 500 MiB", rss)
		}
	})
	small, err := Generate(context.Background(), set(b, one))
	if err != nil {
		b.Fatal(err)
	}
	patches := 0
	for _, file := range small.Files {
		if strings.HasPrefix(file.Path, "upstream/hub/patch-") {
			patches++
			if got := fileContent(tree, file.Path); !bytes.Equal(got, file.Content) {
				b.Errorf("%s differs between 1 and 10,000 downstreams (%d and %d bytes)", file.Path, len(file.Content), len(got))
			}
		}
	}
	if patches != 3 {
		b.Errorf("want the controller, server and argocd-cm patches, found %d", patches)
	}
}

// peakRSS is the process's peak resident set size in MiB.
func peakRSS(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// Core mode (no argocd-server): nothing patches a server, no downstream
// grants or accepts its service account, and the Component's guards check
// only the controller.
func TestCoreModeLeavesTheServerOut(t *testing.T) {
	feds := load(t, "testdata/minimal/federation.yaml")
	off := false
	feds[0].Upstream.ArgoCD.Server.Enabled = &off
	tree, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tree.Files {
		if strings.Contains(string(f.Content), "argocd-server") {
			t.Errorf("%s mentions argocd-server in core mode:\n%s", f.Path, f.Content)
		}
	}
	for _, want := range []string{"upstream/hub/patch-statefulset-argocd-application-controller.yaml", "upstream/hub/kustomization.yaml"} {
		if !slices.ContainsFunc(tree.Files, func(f fileio.File) bool { return f.Path == want }) {
			t.Errorf("no %s", want)
		}
	}
}
