// Package fileio owns how the tools read and write files: reads are bounded,
// and every write is atomic, so a reader or a crash sees the old content or
// the new, never a part. The generator's tree, the published discovery and
// the plugin's install all write through it.
//
// It links only the standard library: the plugin build uses it.
package fileio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/parallel"
)

// File is one file of a tree, its path slash-separated and relative to the
// tree's directory.
type File struct {
	Path    string
	Content []byte
}

// MaxCABundle caps a CA bundle file (the CLI's and the plugin's): the
// largest public root bundles are well under 1 MiB.
const MaxCABundle = 8 << 20

// The ways ReadFile refuses a file, for errors.Is.
var (
	ErrTooLarge   = errors.New("file too large")
	ErrNotRegular = errors.New("not a regular file")
)

// ReadFile reads the regular file at path, at most max bytes. A larger file
// is an error wrapping ErrTooLarge; anything but a regular file is an error
// wrapping ErrNotRegular (and syscall.EISDIR for a directory). The file is
// opened without blocking, so a named pipe never hangs the reader. Other
// errors are the file system's (*fs.PathError: errors.Is tells
// fs.ErrNotExist and fs.ErrPermission apart).
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, tooLarge(path, max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, tooLarge(path, max)
	}
	return data, nil
}

func tooLarge(path string, max int64) error {
	return fmt.Errorf("%s is larger than %s: %w", path, Size(max), ErrTooLarge)
}

// regular refuses what is not a regular file, naming what it is.
func regular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return &fs.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	}
	what := "special file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		what = "named pipe"
	case m&fs.ModeSocket != 0:
		what = "socket"
	case m&fs.ModeDevice != 0:
		what = "device"
	}
	return fmt.Errorf("%s is a %s, %w: give a file", path, what, ErrNotRegular)
}

// Size formats a byte count for messages: 64 KiB, 1 MiB, 100 bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// WriteFile replaces path with the content of r atomically: a temporary file
// in the same directory is written, given mode perm, synced, and renamed over
// path; the directory is then synced. On failure nothing is left behind and
// path is unchanged; the temporary files of writers that were killed before
// they could clean up are removed by the next write. Errors wrap the
// underlying *fs.PathError, so errors.Is tells fs.ErrPermission and the like
// apart.
func WriteFile(path string, r io.Reader, perm fs.FileMode) (err error) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+".tmp-"
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("create a file in %s: %w", dir, err)
	}
	// The lock tells a live writer's temporary file from a dead one's.
	_ = lock(tmp)
	removeDeadTemps(dir, prefix, tmp.Name())
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("set the mode of %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// removeDeadTemps removes the temporary files (names starting with prefix)
// that no live writer holds locked, but own.
func removeDeadTemps(dir, prefix, own string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) || p == own {
			continue
		}
		if f, err := os.Open(p); err == nil {
			if tryLock(f) {
				os.Remove(p)
			}
			f.Close()
		}
	}
}

// syncDir makes a rename durable; a failure leaves the file in place and is
// not worth failing for (some file systems refuse it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// WriteFiles writes files under dir, in order, each atomically (mode 0644):
// a reader sees the old or the new content of each file, never a part, and a
// file written earlier in the list is in place before a later one.
func WriteFiles(dir string, files []File) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("output %s is not a directory", dir)
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		d := filepath.Dir(path)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if err := WriteFile(path, bytes.NewReader(f.Content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// ReplaceDir replaces dir with the tree of files, all at once: the new tree
// is written next to it and swapped in (one atomic exchange where the
// system has it, else two renames), so a failure leaves the old tree as it
// was. The marker file is written too, with the list of the tree's files
// after a "Files:" line: dir must be missing, empty, or hold a marker, and
// every file in it must be one the marker lists, so a file of someone
// else's (a config kept there) is never deleted.
//
// Runs on the same dir are serialised by a lock on its parent, and the
// trees an interrupted run left beside it are removed first. It stops,
// leaving dir as it was, when ctx is done before the swap.
func ReplaceDir(ctx context.Context, dir string, files []File, marker File) error {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	// The lock is on the parent directory itself: no lock file is left
	// beside the output.
	lf, err := os.Open(parent)
	if err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer lf.Close()
	if err := lock(lf); err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := checkOwned(dir, marker.Path); err != nil {
		return err
	}
	removeLeftovers(parent, "."+base+".new-")
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // after the swap: the old tree, or nothing
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	marker.Content = withFileList(marker.Content, files)
	all := append([]File{marker}, files...)
	// Directories first, then the files in parallel: thousands of small
	// files are bound by syscall latency, not by the disk.
	dirs := map[string]bool{}
	for _, f := range all {
		d := filepath.Dir(filepath.Join(tmp, filepath.FromSlash(f.Path)))
		if !dirs[d] {
			dirs[d] = true
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("write %s: %w", dir, err)
			}
		}
	}
	errs := make([]error, len(all))
	parallel.Do(len(all), func(i int) {
		if errs[i] = ctx.Err(); errs[i] == nil {
			errs[i] = os.WriteFile(filepath.Join(tmp, filepath.FromSlash(all[i].Path)), all[i].Content, 0o644)
		}
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s left as it was: %w", dir, err)
	}
	if err := firstError(errs); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if _, err := os.Lstat(dir); err != nil {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("replace %s: %w", dir, err)
		}
		syncDir(parent)
		return nil
	}
	if err := exchange(tmp, dir); err == nil {
		syncDir(parent)
		return nil // the deferred RemoveAll takes the old tree
	}
	// No atomic exchange here: two renames, the old tree kept aside until
	// the new one is in place.
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir)
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	syncDir(parent)
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("remove the previous tree %s: %w", old, err)
	}
	return nil
}

// markerFiles introduces the list of files in a marker.
const markerFiles = "\nFiles:\n"

// withFileList appends the sorted paths of files to a marker's text.
func withFileList(text []byte, files []File) []byte {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.Write(text)
	b.WriteString(markerFiles)
	for _, p := range paths {
		b.WriteString(p + "\n")
	}
	return b.Bytes()
}

// removeLeftovers removes the trees of runs that stopped before their swap
// (their names start with prefix, ".old" ones included); the caller holds
// the lock.
func removeLeftovers(parent, prefix string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// checkOwned refuses to replace a directory that holds files its writer did
// not write: no marker, or files the marker does not list.
func checkOwned(dir, marker string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("output %s exists and is not a directory; choose a directory (or - for standard output)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	text, err := ReadFile(filepath.Join(dir, marker), MaxTreeFile)
	if err != nil {
		return fmt.Errorf("output %s is not empty and was not written by argocd-k8s-federate (no %s file): generate replaces its output directory as a whole, so choose a new or empty directory", dir, marker)
	}
	_, list, ok := bytes.Cut(text, []byte(markerFiles))
	if !ok {
		return nil // a marker without a list: the whole directory is ours
	}
	ours := map[string]bool{marker: true}
	for _, p := range strings.Split(string(list), "\n") {
		ours[p] = true
	}
	var foreign []string
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err == nil && !ours[filepath.ToSlash(rel)] {
			foreign = append(foreign, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("output %s: %w", dir, err)
	}
	if len(foreign) > 0 {
		more := ""
		if len(foreign) > 3 {
			more = fmt.Sprintf(" and %d more", len(foreign)-3)
			foreign = foreign[:3]
		}
		return fmt.Errorf("output %s holds files argocd-k8s-federate did not write (%s%s): generate replaces its output directory as a whole; move them out of it (nothing was written)", dir, strings.Join(foreign, ", "), more)
	}
	return nil
}

// MaxTreeFile is the largest file Diff reads in a tree: generated files are
// kilobytes.
const MaxTreeFile = 16 << 20

// firstError is the first of errs that is not nil: thousands of files that
// fail for one reason (a full disk) are one error, with how many more.
func firstError(errs []error) error {
	n := 0
	var first error
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more files)", first, n-1)
	}
	return first
}

// Difference is one file where a directory and a tree disagree.
type Difference struct {
	Path string
	// What is "changed", "missing" (in the tree, not on disk) or "extra"
	// (on disk, not in the tree).
	What string
}

// Diff compares dir with the tree of files and lists every difference,
// sorted by path; the files named in ignore are not compared. A missing dir
// is a tree with no files.
func Diff(ctx context.Context, dir string, files []File, ignore ...string) ([]Difference, error) {
	onDisk := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, i := range ignore {
			if rel == i {
				return nil
			}
		}
		b, err := ReadFile(p, MaxTreeFile)
		if err != nil {
			return err
		}
		onDisk[rel] = b
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var diffs []Difference
	for _, f := range files {
		b, ok := onDisk[f.Path]
		switch {
		case !ok:
			diffs = append(diffs, Difference{f.Path, "missing"})
		case !bytes.Equal(b, f.Content):
			diffs = append(diffs, Difference{f.Path, "changed"})
		}
		delete(onDisk, f.Path)
	}
	for p := range onDisk {
		diffs = append(diffs, Difference{p, "extra"})
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Path < diffs[j].Path })
	return diffs, nil
}

// Lock takes an exclusive lock on the file at path (created, mode 0600, if
// missing), waiting for it, and returns the function that releases it. A
// lock on a file of its own, not on the file it guards, survives the atomic
// rename of WriteFile. Without flock (not unix) it locks nothing.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock file: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
