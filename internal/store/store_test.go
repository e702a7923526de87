package store

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestRecordsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		if err := tx.PutVersion(VersionRecord{Function: "f", Version: 1, CodeSHA256: "c", ConfigSHA256: "k", Config: json.RawMessage(`{}`), CodeDir: "/x", Created: t0}); err != nil {
			return err
		}
		if err := tx.PutAlias(AliasRecord{Function: "f", Name: "Live", Version: 1, Updated: t0}); err != nil {
			return err
		}
		return tx.PutDeployment(DeploymentRecord{ID: "d-1", Function: "f", Status: "InProgress", Created: t0, Updated: t0, Doc: json.RawMessage(`{"a":1}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAlarmState(AlarmStateRecord{Name: "A", State: "ALARM", Reason: "r", Updated: t0}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, _ := db.Versions()
	as, _ := db.Aliases()
	ds, _ := db.Deployments("f")
	al, _ := db.AlarmStates()
	if len(vs) != 1 || len(as) != 1 || len(ds) != 1 || len(al) != 1 {
		t.Fatalf("after reopen: %d versions, %d aliases, %d deployments, %d alarm states", len(vs), len(as), len(ds), len(al))
	}
	if !ds[0].Created.Equal(t0) || string(ds[0].Doc) != `{"a":1}` || al[0].State != "ALARM" {
		t.Fatalf("records changed: %+v %+v", ds[0], al[0])
	}
	if _, err := db.Deployment("d-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing deployment: err = %v", err)
	}
}

func TestAliasCannotNameMissingVersion(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *Tx) error {
		return tx.PutAlias(AliasRecord{Function: "f", Name: "Live", Version: 7, Updated: t0})
	})
	if err == nil {
		t.Fatal("an alias naming a version that does not exist was stored")
	}
}

func TestVersionsAreImmutable(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func() error {
		return db.Update(func(tx *Tx) error {
			return tx.PutVersion(VersionRecord{Function: "f", Version: 1, Config: json.RawMessage(`{}`), Created: t0})
		})
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	if err := put(); err == nil {
		t.Fatal("version 1 was written twice")
	}
}

func TestDeleteAlarmState(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"A", "B"} {
		if err := db.PutAlarmState(AlarmStateRecord{Name: name, State: "ALARM", Reason: "r", Updated: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteAlarmState("A"); err != nil {
		t.Fatal(err)
	}
	states, err := db.AlarmStates()
	if err != nil || len(states) != 1 || states[0].Name != "B" {
		t.Fatalf("states after deleting A: %+v, %v", states, err)
	}
}
