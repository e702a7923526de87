package main

import (
	"runtime/debug"
	"strings"
)

// commit is the commit built from when the toolchain did not record it
// (a build with -buildvcs=false): -ldflags "-X main.commit=$(git rev-parse HEAD)".
var commit string

// version is the module version and the commit sluice was built from, as
// the Go toolchain recorded them (go install …@v1.2.3, or a build in a
// git checkout).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	commit := commit
	var modified, when string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		case "vcs.time":
			when = ", " + s.Value
		}
	}
	if commit == "" {
		return v + " (commit unknown), " + info.GoVersion
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	return strings.Join([]string{v, "(commit " + commit + modified + when + "),", info.GoVersion}, " ")
}
