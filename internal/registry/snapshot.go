package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/store"
)

// skipDirs are never part of a function's code: sluice's own state, the
// framework's build output and version control.
var skipDirs = map[string]bool{".sluice": true, ".serverless": true, ".git": true}

// codeStore keeps immutable snapshots of service directories.
//
// Files are stored once by content (blobs/<sha256>, read-only), and a
// snapshot is a tree of hard links to them (trees/<tree sha256>), so a new
// version of a large service costs links, not copies, for unchanged files.
// A version's code can then never change under it, whatever happens to the
// working copy — the property Lambda's versions have.
type codeStore struct {
	dir string
	db  *store.DB
}

type tree struct {
	sha string
	dir string
}

type treeEntry struct {
	rel  string
	exec bool
	blob string // blob name: sha256, plus "x" when executable
}

// Filter decides which files of a service directory are code (see
// internal/bundle): Include for a file, Prune for a directory none of whose
// files can be included. Paths are slash-separated, relative to the root.
type Filter interface {
	Include(rel string) bool
	Prune(relDir string) bool
}

// SnapshotOptions shape a snapshot.
type SnapshotOptions struct {
	// Filter picks the files; nil takes every file.
	Filter Filter
	// Confined are paths (relative, slash-separated) that must not resolve
	// outside the service directory through a symbolic link: the handler
	// files. Dependencies may link elsewhere; entry points may not.
	Confined []string
	// Progress, when set, is told how a snapshot goes every ProgressEvery
	// files (default DefaultProgressEvery), and once at the end.
	Progress      func(SnapshotProgress)
	ProgressEvery int
}

// DefaultProgressEvery is how many files pass between progress reports.
const DefaultProgressEvery = 5000

// SnapshotProgress is how far a snapshot has come.
type SnapshotProgress struct {
	Files int
	Bytes int64
	// Stored counts the files whose content was new to the store.
	Stored int
	Done   bool
}

// snapshot stores srcDir's current content and returns its tree.
func (c *codeStore) snapshot(srcDir string, opts SnapshotOptions) (tree, error) {
	entries, err := c.store(srcDir, opts)
	if err != nil {
		return tree{}, err
	}
	return c.materialize(entries)
}

// store copies the files of srcDir that opts select into the blob store
// (those it does not hold yet) and returns the tree's entries, sorted.
func (c *codeStore) store(srcDir string, opts SnapshotOptions) ([]treeEntry, error) {
	srcDir, err := filepath.Abs(srcDir)
	if err != nil {
		return nil, err
	}
	if err := CheckConfined(srcDir, opts.Confined); err != nil {
		return nil, err
	}
	absStore, _ := filepath.Abs(c.dir)
	blobs := filepath.Join(c.dir, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, err
	}
	var entries []treeEntry
	var fresh []store.FileHashRecord
	var progress SnapshotProgress
	every := opts.ProgressEvery
	if every <= 0 {
		every = DefaultProgressEvery
	}
	err = walkCode(srcDir, opts.Filter, func(path, rel string, info fs.FileInfo) error {
		exec := info.Mode()&0o111 != 0
		suffix := ""
		if exec {
			suffix = "x"
		}
		mtime := info.ModTime().UnixNano()
		sum, ok := c.db.FileHash(path, info.Size(), mtime)
		if ok {
			if _, err := os.Stat(filepath.Join(blobs, sum+suffix)); err != nil {
				ok = false
			}
		}
		if !ok {
			if sum, err = storeBlob(path, blobs, suffix); err != nil {
				return err
			}
			fresh = append(fresh, store.FileHashRecord{Path: path, Size: info.Size(), MtimeNS: mtime, SHA256: sum})
		}
		entries = append(entries, treeEntry{rel: rel, exec: exec, blob: sum + suffix})
		progress.Files++
		progress.Bytes += info.Size()
		if opts.Progress != nil && progress.Files%every == 0 {
			progress.Stored = len(fresh)
			opts.Progress(progress)
		}
		return nil
	}, absStore)
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		progress.Stored, progress.Done = len(fresh), true
		opts.Progress(progress)
	}
	if len(fresh) > 0 {
		if err := c.db.PutFileHashes(fresh); err != nil {
			return nil, err
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	return entries, nil
}

// identity sums entries' paths and contents, except that the content of
// the paths in aside does not count (their paths do).
func identity(entries []treeEntry, aside map[string]bool) string {
	h := sha256.New()
	for _, e := range entries {
		if aside[e.rel] {
			fmt.Fprintf(h, "%s\x00(aside)\n", e.rel)
			continue
		}
		fmt.Fprintf(h, "%s\x00%s\n", e.rel, e.blob)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// materialize links entries into a tree named by their identity. A tree
// of that identity already stored is reused as it is.
func (c *codeStore) materialize(entries []treeEntry) (tree, error) {
	blobs := filepath.Join(c.dir, "blobs")
	t := tree{sha: identity(entries, nil)}
	t.dir = codeDirFor(c.dir, t.sha)
	if _, err := os.Stat(t.dir); err == nil {
		return t, nil // this exact tree is already stored
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.dir), ".tree-")
	if err != nil {
		return tree{}, err
	}
	defer os.RemoveAll(tmp) // left behind only if the rename below did not happen
	for _, e := range entries {
		dst := filepath.Join(tmp, filepath.FromSlash(e.rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return tree{}, err
		}
		blob := filepath.Join(blobs, e.blob)
		if err := os.Link(blob, dst); err != nil {
			if err := copyFile(blob, dst, 0o444); err != nil {
				return tree{}, err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(t.dir), 0o755); err != nil {
		return tree{}, err
	}
	// The rename makes the tree appear whole or not at all.
	if err := os.Rename(tmp, t.dir); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(t.dir); statErr != nil {
			return tree{}, err
		}
	}
	return t, nil
}

// CheckConfined refuses paths below root that a symbolic link resolves to
// somewhere outside it (missing paths are the runtime's to report).
func CheckConfined(root string, rels []string) error {
	if len(rels) == 0 {
		return nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
			return fmt.Errorf("handler file %s is a link to %s, outside the service directory %s: a handler must be the service's own file (replace the link with the file, or move the handler into the service)", rel, real, realRoot)
		}
	}
	return nil
}

// walkCode calls fn for every regular file below root that filter includes
// (nil: all), with its path relative to root. Symbolic links are followed,
// to files and directories alike (a linked node_modules is code too, and
// the framework packages what links point at), each real directory at most
// once per branch so a link cycle ends; a link to / is never followed, and
// devices, sockets and pipes are not code. Version control, build output
// and sluice's own state (skipDirs, and the code store at storeDir) are
// left out.
func walkCode(root string, filter Filter, fn func(path, rel string, info fs.FileInfo) error, storeDir string) error {
	if real, err := filepath.EvalSymlinks(storeDir); err == nil {
		storeDir = real
	}
	var walk func(dir, rel string, ancestors map[string]bool) error
	walk = func(dir, rel string, ancestors map[string]bool) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if ancestors[real] || real == storeDir || real == "/" {
			return nil // a link back up the tree, the store itself, or the whole machine
		}
		ancestors[real] = true
		defer delete(ancestors, real)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			childRel := e.Name()
			if rel != "" {
				childRel = rel + "/" + e.Name()
			}
			info, err := os.Stat(path) // follows links
			if err != nil {
				continue // a dangling link is not code
			}
			switch {
			case info.IsDir():
				if skipDirs[e.Name()] || filter != nil && filter.Prune(childRel) {
					continue
				}
				if err := walk(path, childRel, ancestors); err != nil {
					return err
				}
			case info.Mode().IsRegular():
				if filter != nil && !filter.Include(childRel) {
					continue
				}
				if err := fn(path, childRel, info); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, "", map[string]bool{})
}

// storeBlob copies path into the blob store, hashing what it copies (so the
// blob's name always matches its content even if the file changes meanwhile).
func storeBlob(path, blobs, suffix string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(blobs, ".blob-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), src); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	perm := fs.FileMode(0o444)
	if strings.HasSuffix(suffix, "x") {
		perm = 0o555
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return "", err
	}
	dst := filepath.Join(blobs, sum+suffix)
	if _, err := os.Stat(dst); err == nil {
		return sum, nil
	}
	return sum, os.Rename(tmp.Name(), dst)
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
