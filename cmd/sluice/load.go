package main

import (
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/internal/config"
)

// loadService loads the --config service with the shared flags, writing
// warnings to w. local is set by commands that run the functions here.
func loadService(w io.Writer, local bool) (*config.Service, config.Diagnostics, error) {
	svc, diags, err := config.Load(global.config, config.Options{Stage: global.stage, Region: global.region, Local: local})
	for _, d := range diags.Warnings() {
		fmt.Fprintln(w, d.Error())
	}
	if err != nil {
		return nil, diags, fmt.Errorf("%s is not valid:\n%w", global.config, err)
	}
	return svc, diags, nil
}
