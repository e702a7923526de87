package runtime

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

// Lambda's Node.js runtimes include the AWS SDK for JavaScript v3: its
// packages sit in /var/runtime/node_modules, on NODE_PATH after the
// function's own node_modules, so a function that does not bundle
// @aws-sdk/client-codedeploy still loads it. sluice does the same with a
// cache: the @aws-sdk/* packages a function names and does not bundle are
// installed with npm, on first use, into NodeSDK.Dir (shared by every
// service of the user), and sluice's bootstrap puts its node_modules at the
// same place on NODE_PATH (SLUICE_NODEJS_SDK_DIR).

// NodeSDKEnv is the variable that tells sluice's Node.js bootstrap where
// the cached SDK packages are.
const NodeSDKEnv = "SLUICE_NODEJS_SDK_DIR"

// NodeSDK is the cache of AWS SDK for JavaScript v3 packages.
type NodeSDK struct {
	Dir string // holds package.json and node_modules
}

// DefaultNodeSDK is the cache under the user's cache directory
// (~/.cache/sluice/runtimes/nodejs-sdk).
func DefaultNodeSDK() (NodeSDK, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return NodeSDK{}, fmt.Errorf("find a cache directory for the AWS SDK for JavaScript: %w", err)
	}
	return NodeSDK{Dir: filepath.Join(base, "sluice", "runtimes", "nodejs-sdk")}, nil
}

// NodeModules is what goes on NODE_PATH.
func (s NodeSDK) NodeModules() string { return filepath.Join(s.Dir, "node_modules") }

// Has reports whether pkg is installed in the cache.
func (s NodeSDK) Has(pkg string) bool {
	_, err := os.Stat(filepath.Join(s.NodeModules(), filepath.FromSlash(pkg), "package.json"))
	return err == nil
}

// Ensure installs the packages the cache lacks, with npm, holding a lock
// so that concurrent sluice processes do not install at once. log is told
// what is installed.
func (s NodeSDK) Ensure(pkgs []string, log io.Writer) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.Dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	var missing []string
	for _, p := range pkgs {
		if !s.Has(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	manifest := filepath.Join(s.Dir, "package.json")
	if _, err := os.Stat(manifest); err != nil {
		if err := os.WriteFile(manifest, []byte(`{"name": "sluice-nodejs-sdk", "private": true, "description": "AWS SDK for JavaScript v3 packages, as Lambda's Node.js runtimes include them"}`+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "Installing %s into %s (Lambda's Node.js runtimes include the AWS SDK for JavaScript v3; this happens once)…\n", strings.Join(missing, ", "), s.Dir)
	args := []string{"install", "--prefix", s.Dir, "--no-audit", "--no-fund", "--loglevel=error", "--ignore-scripts"}
	for _, p := range missing {
		args = append(args, p+"@3")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("installing %s needs npm on PATH (install Node.js with npm), or add the packages to the service: npm install %s", strings.Join(missing, " "), strings.Join(missing, " "))
	}
	var out bytes.Buffer
	cmd := exec.Command(npm, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.Dir, &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s: %w\n%s\nAdd the packages to the service instead (npm install %s), or retry when the npm registry is reachable", strings.Join(args, " "), err, strings.TrimSpace(out.String()), strings.Join(missing, " "))
	}
	return nil
}

// sdkImport finds @aws-sdk/<package> in require() calls, import
// statements and dynamic imports.
var sdkImport = regexp.MustCompile(`(?:require\s*\(|from|import\s*\(?)\s*['"](@aws-sdk/[a-z0-9][a-z0-9._-]*)`)

// NodeSDKPackages lists the @aws-sdk/* packages the JavaScript files of
// codeDir (outside node_modules) load and do not bundle: no node_modules
// between the file and codeDir holds them.
func NodeSDKPackages(codeDir string) ([]string, error) {
	found := map[string]bool{}
	err := filepath.WalkDir(codeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts":
		default:
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range sdkImport.FindAllSubmatch(src, -1) {
			pkg := string(m[1])
			if found[pkg] || bundled(codeDir, filepath.Dir(path), pkg) {
				continue
			}
			found[pkg] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(found))
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// bundled reports whether Node's resolution from dir finds pkg in a
// node_modules at or below root.
func bundled(root, dir, pkg string) bool {
	for {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json")); err == nil {
			return true
		}
		if dir == root || !strings.HasPrefix(dir, root) {
			return false
		}
		dir = filepath.Dir(dir)
	}
}
