package store

import (
	"os"
	"path/filepath"
	"testing"
)

// The database holds resolved ${env:…} values: the audit found .sluice at
// 0755 and state.db at 0644. New and existing state are made private.
func TestStateIsPrivate(t *testing.T) {
	for _, existing := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), ".sluice")
		if existing {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, FileName), nil, 0o644)
		}
		db, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Versions(); err != nil { // a write of the WAL is not needed: reading opens it
			t.Fatal(err)
		}
		for _, p := range []string{dir, filepath.Join(dir, FileName), filepath.Join(dir, FileName+"-wal")} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o600)
			if st.IsDir() {
				want = 0o700
			}
			if st.Mode().Perm() != want {
				t.Errorf("existing state %v: %s has mode %v, want %v", existing, p, st.Mode().Perm(), want)
			}
		}
		db.Close()
	}
}
