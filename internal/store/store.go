// Package store keeps the local engine's durable state in SQLite
// (modernc.org/sqlite: pure Go, so no C toolchain is needed): versions,
// aliases, deployments and alarm states, under .sluice/ beside the service.
//
// The store knows records, not behaviour: the registry and the deployment
// engine own what the records mean. Writes that must land together (an
// alias weight and the deployment step that set it) go through Update, one
// transaction, so a crash leaves either both or neither.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's name inside the state directory.
const FileName = "state.db"

// DB is an open state database.
type DB struct {
	db   *sql.DB
	path string
}

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("not found")

// migrations[i] moves the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE versions (
		function      TEXT    NOT NULL,
		version       INTEGER NOT NULL,
		code_sha256   TEXT    NOT NULL,
		config_sha256 TEXT    NOT NULL,
		config        TEXT    NOT NULL, -- JSON: what the version runs with
		code_dir      TEXT    NOT NULL, -- the immutable snapshot of its code
		description   TEXT    NOT NULL DEFAULT '',
		created_at    INTEGER NOT NULL, -- unix ms of the engine's clock
		PRIMARY KEY (function, version)
	);
	CREATE TABLE aliases (
		function           TEXT    NOT NULL,
		name               TEXT    NOT NULL,
		version            INTEGER NOT NULL,
		additional_version INTEGER NOT NULL DEFAULT 0, -- 0: none
		additional_weight  REAL    NOT NULL DEFAULT 0,
		updated_at         INTEGER NOT NULL,
		PRIMARY KEY (function, name),
		FOREIGN KEY (function, version) REFERENCES versions (function, version)
	);
	CREATE TABLE deployments (
		id         TEXT    PRIMARY KEY,
		function   TEXT    NOT NULL,
		status     TEXT    NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		doc        TEXT    NOT NULL -- JSON, shaped by the deploy package
	);
	CREATE INDEX deployments_by_function ON deployments (function, created_at);
	CREATE TABLE alarm_states (
		name        TEXT    PRIMARY KEY,
		state       TEXT    NOT NULL,
		reason      TEXT    NOT NULL,
		reason_data TEXT    NOT NULL DEFAULT '',
		updated_at  INTEGER NOT NULL
	);
	CREATE TABLE file_hashes ( -- cache: hashing a large node_modules on every publish is slow
		path     TEXT    PRIMARY KEY,
		size     INTEGER NOT NULL,
		mtime_ns INTEGER NOT NULL,
		sha256   TEXT    NOT NULL
	);`,
}

// Open opens (creating if needed) the state database in dir.
func Open(dir string) (*DB, error) {
	// The state holds resolved ${env:…} values (passwords, tokens): only
	// its owner may read it. A directory or database left readable by an
	// older sluice is tightened too.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the state directory %s private: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if err := privateFiles(path, path+"-wal", path+"-shm"); err != nil {
		return nil, err
	}
	// WAL keeps readers off the writer's back; synchronous=FULL makes every
	// committed transaction survive a kill -9 or power loss, which the
	// crash-safety promise needs and the write rate (a few per deployment
	// step) easily affords. foreign_keys guards "an alias never names a
	// missing version".
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "busy_timeout(5000)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One connection: SQLite allows one writer anyway, and a single
	// connection makes transactions serialise instead of failing with BUSY.
	db.SetMaxOpenConns(1)
	s := &DB{db: db, path: path}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state database %s: %w (move it aside to start from a clean state)", path, err)
	}
	return s, nil
}

// privateFiles creates the database file with mode 0600 before SQLite
// opens it (SQLite gives its -wal and -shm files the database's mode) and
// tightens files that already exist.
func privateFiles(db string, others ...string) error {
	f, err := os.OpenFile(db, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create state database: %w", err)
	}
	f.Close()
	for _, p := range append([]string{db}, others...) {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make %s private: %w", p, err)
		}
	}
	return nil
}

func (s *DB) migrate() error {
	var v int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("the database has schema version %d, newer than this sluice understands (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := s.db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Path is the database file.
func (s *DB) Path() string { return s.path }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Tx is a transaction: its writes land together or not at all.
type Tx struct{ tx *sql.Tx }

// Update runs fn in one transaction, committing when it returns nil.
func (s *DB) Update(fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if err := fn(&Tx{tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// VersionRecord is one published version of a function.
type VersionRecord struct {
	Function     string
	Version      int
	CodeSHA256   string
	ConfigSHA256 string
	Config       json.RawMessage
	CodeDir      string
	Description  string
	Created      time.Time
}

// PutVersion records a new version; versions are immutable, so an existing
// (function, version) is an error.
func (t *Tx) PutVersion(v VersionRecord) error {
	_, err := t.tx.Exec(`INSERT INTO versions (function, version, code_sha256, config_sha256, config, code_dir, description, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, v.Function, v.Version, v.CodeSHA256, v.ConfigSHA256, string(v.Config), v.CodeDir, v.Description, ms(v.Created))
	return err
}

// Versions lists every version of every function, by function then number.
func (s *DB) Versions() ([]VersionRecord, error) {
	rows, err := s.db.Query(`SELECT function, version, code_sha256, config_sha256, config, code_dir, description, created_at
		FROM versions ORDER BY function, version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VersionRecord
	for rows.Next() {
		var v VersionRecord
		var cfg string
		var created int64
		if err := rows.Scan(&v.Function, &v.Version, &v.CodeSHA256, &v.ConfigSHA256, &cfg, &v.CodeDir, &v.Description, &created); err != nil {
			return nil, err
		}
		v.Config, v.Created = json.RawMessage(cfg), fromMS(created)
		out = append(out, v)
	}
	return out, rows.Err()
}

// AliasRecord is where an alias points.
type AliasRecord struct {
	Function          string
	Name              string
	Version           int
	AdditionalVersion int // 0: none
	AdditionalWeight  float64
	Updated           time.Time
}

// PutAlias creates or updates an alias.
func (t *Tx) PutAlias(a AliasRecord) error {
	_, err := t.tx.Exec(`INSERT INTO aliases (function, name, version, additional_version, additional_weight, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (function, name) DO UPDATE SET version = excluded.version,
			additional_version = excluded.additional_version, additional_weight = excluded.additional_weight,
			updated_at = excluded.updated_at`,
		a.Function, a.Name, a.Version, a.AdditionalVersion, a.AdditionalWeight, ms(a.Updated))
	return err
}

// Aliases lists every alias, by function then name.
func (s *DB) Aliases() ([]AliasRecord, error) {
	rows, err := s.db.Query(`SELECT function, name, version, additional_version, additional_weight, updated_at
		FROM aliases ORDER BY function, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AliasRecord
	for rows.Next() {
		var a AliasRecord
		var updated int64
		if err := rows.Scan(&a.Function, &a.Name, &a.Version, &a.AdditionalVersion, &a.AdditionalWeight, &updated); err != nil {
			return nil, err
		}
		a.Updated = fromMS(updated)
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeploymentRecord is one deployment; Doc is the deploy package's JSON.
type DeploymentRecord struct {
	ID       string
	Function string
	Status   string
	Created  time.Time
	Updated  time.Time
	Doc      json.RawMessage
}

// PutDeployment creates or replaces a deployment record.
func (t *Tx) PutDeployment(d DeploymentRecord) error {
	_, err := t.tx.Exec(`INSERT INTO deployments (id, function, status, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, doc = excluded.doc`,
		d.ID, d.Function, d.Status, ms(d.Created), ms(d.Updated), string(d.Doc))
	return err
}

// Deployments lists deployments, oldest first; an empty function means all.
func (s *DB) Deployments(function string) ([]DeploymentRecord, error) {
	rows, err := s.db.Query(`SELECT id, function, status, created_at, updated_at, doc FROM deployments
		WHERE ? = '' OR function = ? ORDER BY created_at, rowid`, function, function)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeploymentRecord
	for rows.Next() {
		var d DeploymentRecord
		var created, updated int64
		var doc string
		if err := rows.Scan(&d.ID, &d.Function, &d.Status, &created, &updated, &doc); err != nil {
			return nil, err
		}
		d.Created, d.Updated, d.Doc = fromMS(created), fromMS(updated), json.RawMessage(doc)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Deployment returns one deployment, or ErrNotFound.
func (s *DB) Deployment(id string) (DeploymentRecord, error) {
	var d DeploymentRecord
	var created, updated int64
	var doc string
	err := s.db.QueryRow(`SELECT id, function, status, created_at, updated_at, doc FROM deployments WHERE id = ?`, id).
		Scan(&d.ID, &d.Function, &d.Status, &created, &updated, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	d.Created, d.Updated, d.Doc = fromMS(created), fromMS(updated), json.RawMessage(doc)
	return d, err
}

// AlarmStateRecord is an alarm's last state.
type AlarmStateRecord struct {
	Name       string
	State      string
	Reason     string
	ReasonData string
	Updated    time.Time
}

// PutAlarmState records an alarm's state.
func (s *DB) PutAlarmState(a AlarmStateRecord) error {
	_, err := s.db.Exec(`INSERT INTO alarm_states (name, state, reason, reason_data, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET state = excluded.state, reason = excluded.reason,
			reason_data = excluded.reason_data, updated_at = excluded.updated_at`,
		a.Name, a.State, a.Reason, a.ReasonData, ms(a.Updated))
	return err
}

// DeleteAlarmState forgets an alarm's state (the alarm was deleted).
func (s *DB) DeleteAlarmState(name string) error {
	_, err := s.db.Exec(`DELETE FROM alarm_states WHERE name = ?`, name)
	return err
}

// AlarmStates lists every alarm's last state, by name.
func (s *DB) AlarmStates() ([]AlarmStateRecord, error) {
	rows, err := s.db.Query(`SELECT name, state, reason, reason_data, updated_at FROM alarm_states ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AlarmStateRecord
	for rows.Next() {
		var a AlarmStateRecord
		var updated int64
		if err := rows.Scan(&a.Name, &a.State, &a.Reason, &a.ReasonData, &updated); err != nil {
			return nil, err
		}
		a.Updated = fromMS(updated)
		out = append(out, a)
	}
	return out, rows.Err()
}

// FileHash returns the cached SHA-256 of a file with this size and
// modification time, if known.
func (s *DB) FileHash(path string, size, mtimeNS int64) (string, bool) {
	var sum string
	err := s.db.QueryRow(`SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?`, path, size, mtimeNS).Scan(&sum)
	return sum, err == nil
}

// PutFileHashes caches file hashes in one transaction.
func (s *DB) PutFileHashes(entries []FileHashRecord) error {
	return s.Update(func(t *Tx) error {
		for _, e := range entries {
			if _, err := t.tx.Exec(`INSERT INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)
				ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256`,
				e.Path, e.Size, e.MtimeNS, e.SHA256); err != nil {
				return err
			}
		}
		return nil
	})
}

// FileHashRecord is one cached file hash.
type FileHashRecord struct {
	Path    string
	Size    int64
	MtimeNS int64
	SHA256  string
}

// Latest is the latest time recorded in any table (zero for an empty
// store): a restarted engine's clock resumes from it.
func (s *DB) Latest() (time.Time, error) {
	var latest sql.NullInt64
	err := s.db.QueryRow(`SELECT MAX(t) FROM (
		SELECT MAX(created_at) AS t FROM versions UNION ALL
		SELECT MAX(updated_at) FROM aliases UNION ALL
		SELECT MAX(updated_at) FROM deployments UNION ALL
		SELECT MAX(updated_at) FROM alarm_states)`).Scan(&latest)
	if err != nil || !latest.Valid {
		return time.Time{}, err
	}
	return fromMS(latest.Int64), nil
}
