package awscfn

import "github.com/sluice-dev/sluice/internal/config"

// The CodeDeploy names `sluice package` gives a service, exported so that
// the local engine names its deployment groups the same way.

// DeploymentApplicationName is the service's CodeDeploy application:
// the stack name's letters and digits, then DeploymentApplication.
func DeploymentApplicationName(svc *config.Service) string {
	return alphaNumeric(svc.StackName()) + "DeploymentApplication"
}

// DeploymentGroupName is function f's deployment group:
// <stack>-<Fn>LambdaFunctionDeploymentGroup, cut to CodeDeploy's 100 characters.
func DeploymentGroupName(svc *config.Service, f *config.Function) string {
	return truncate(svc.StackName()+"-"+f.LogicalID()+"LambdaFunctionDeploymentGroup", maxGroupNameLen)
}

// GradualStage reports whether the service's stage deploys gradually:
// custom.deploymentSettings.stages, when given, lists the stages that do;
// in the others every function deploys at once.
func GradualStage(svc *config.Service) bool { return stageEnabled(svc) }
