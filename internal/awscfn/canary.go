package awscfn

import "github.com/sluice-dev/sluice/internal/config"

// addCanary adds the CodeDeploy application, deployment groups, aliases and
// re-points event sources at the aliases.
func addCanary(tpl Template, svc *config.Service) (config.Diagnostics, error) {
	return nil, nil // TODO(canary)
}
