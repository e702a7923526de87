package awscfn

import "github.com/sluice-dev/sluice/internal/config"

// addAlarms adds the aws-alerts alarms (and their topics and metric filters).
func addAlarms(tpl Template, svc *config.Service) (config.Diagnostics, error) {
	return nil, nil // TODO(alerts)
}
