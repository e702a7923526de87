package runtime

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// The bootstraps are sluice's own runtime clients for Node.js and Python:
// the loop that asks the Runtime API for the next event, calls the handler
// and posts its result, as Lambda's managed runtimes do.
//
//go:embed bootstraps
var bootstrapFS embed.FS

const (
	nodeBootstrap   = "bootstrap.cjs" // .cjs: CommonJS whatever package.json says
	pythonBootstrap = "bootstrap.py"
)

var (
	installMu sync.Mutex
	installed = map[string]string{} // runtime dir → versioned directory
)

// installBootstraps writes the embedded bootstraps to dir/<content hash>/
// (once per process and directory) and returns that directory, which
// becomes LAMBDA_RUNTIME_DIR. The content hash keeps a newer sluice from
// running an older bootstrap left behind; the rename makes installation
// safe against other sluice processes doing the same.
func installBootstraps(dir string) (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	if d, ok := installed[dir]; ok {
		return d, nil
	}
	files, err := fs.ReadDir(bootstrapFS, "bootstraps")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	contents := map[string][]byte{}
	for _, f := range files {
		b, err := bootstrapFS.ReadFile("bootstraps/" + f.Name())
		if err != nil {
			return "", err
		}
		contents[f.Name()] = b
		h.Write([]byte(f.Name()))
		h.Write(b)
	}
	final := filepath.Join(dir, "bootstrap-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(final); err == nil {
		installed[dir] = final
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create runtime directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".bootstrap-")
	if err != nil {
		return "", fmt.Errorf("create runtime directory: %w", err)
	}
	for name, b := range contents {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("write bootstrap %s: %w", name, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		// Another process installed the same content first: use theirs.
		if _, statErr := os.Stat(final); statErr != nil {
			return "", fmt.Errorf("install bootstraps: %w", errors.Join(err, statErr))
		}
	}
	installed[dir] = final
	return final, nil
}
