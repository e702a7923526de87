package config

import "slices"

// The CodeDeploy names of a service, shared by `sluice package` (awscfn)
// and the local engine so both name deployment groups the same way.

// maxGroupNameLen is CodeDeploy's limit on deployment group names; the
// canary plugin cuts longer names.
const maxGroupNameLen = 100

// GradualStage reports whether the service's stage deploys gradually:
// custom.deploymentSettings.stages, when given, lists the stages that do;
// in the others every function deploys at once.
func (s *Service) GradualStage() bool {
	g := s.DeploymentSettings
	return g == nil || len(g.Stages) == 0 || slices.Contains(g.Stages, s.Stage)
}

// DeploymentApplicationName is the service's CodeDeploy application:
// the stack name's letters and digits, then DeploymentApplication.
func (s *Service) DeploymentApplicationName() string {
	return alphaNumeric(s.StackName()) + "DeploymentApplication"
}

// DeploymentGroupName is function f's deployment group:
// <stack>-<Fn>LambdaFunctionDeploymentGroup, cut to CodeDeploy's 100
// bytes as the plugin's String.slice cuts these ASCII names.
func (s *Service) DeploymentGroupName(f *Function) string {
	name := s.StackName() + "-" + f.LogicalID() + "LambdaFunctionDeploymentGroup"
	if len(name) > maxGroupNameLen {
		name = name[:maxGroupNameLen]
	}
	return name
}

// alphaNumeric keeps the ASCII letters and digits of s, the first
// upper-cased: the framework's naming of the CodeDeploy application.
func alphaNumeric(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b = append(b, c)
		}
	}
	if len(b) > 0 && b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}
