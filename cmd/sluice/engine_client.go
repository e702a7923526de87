package main

import (
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
)

// stateDir is where the engine for --config keeps its state: --state-dir,
// else .sluice beside the service definition.
func stateDir() string {
	if global.stateDir != "" {
		return global.stateDir
	}
	return filepath.Join(filepath.Dir(global.config), ".sluice")
}

// dialEngine connects to the engine running for --config.
func dialEngine() (*control.Client, error) {
	return control.Dial(stateDir())
}

// functionName maps a function's key in serverless.yml (api) to its
// deployed name (orders-dev-api); other names pass through.
func functionName(name string) string {
	opts, err := loadOptions(false)
	if err != nil {
		return name
	}
	svc, _, err := config.Load(global.config, opts)
	if err != nil {
		return name
	}
	if f := svc.Function(name); f != nil {
		return f.Name
	}
	return name
}
