// Package registrytest opens a real registry over a real SQLite store in a
// test's temporary directory, for the packages that build on the registry.
package registrytest

import (
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/store"
)

// Open returns a registry and its store in a new state directory (also
// returned), closed when the test ends.
func Open(t testing.TB, c clock.Clock) (*registry.Registry, *store.DB, string) {
	t.Helper()
	state := t.TempDir()
	db, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := registry.Open(db, c, filepath.Join(state, "code"))
	if err != nil {
		t.Fatal(err)
	}
	return reg, db, state
}
