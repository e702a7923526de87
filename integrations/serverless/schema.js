'use strict';

// The serverless.yml keys that serverless-plugin-canary-deployments and
// serverless-plugin-aws-alerts read, declared so that the framework's strict
// validation (osls v4 by default, v3 with `configValidationMode: error`)
// accepts them. Types are only as strict as the plugins were: sluice
// validates every value itself afterwards and names the line to fix, which
// the framework's schema errors cannot.

const anything = (description) => ({ description });

// deploymentSettings, on a function or in custom: every key sluice reads.
// null is allowed on a function: the canary plugin treats a function whose
// key is present at all as gradual, filled from custom.deploymentSettings.
const deploymentSettings = {
  type: ['object', 'null'],
  properties: {
    type: anything('the CodeDeploy traffic-shifting config, e.g. Linear10PercentEvery1Minute'),
    alias: anything('the alias traffic shifts on, e.g. Live'),
    preTrafficHook: anything('function key of the BeforeAllowTraffic hook'),
    postTrafficHook: anything('function key of the AfterAllowTraffic hook'),
    alarms: anything('alarms that stop the deployment: logical IDs, or {name}'),
    canaryAlarms: anything('alarms that watch only the new version (sluice)'),
    triggerConfigurations: anything('CodeDeploy TriggerConfigurations'),
    stages: anything('the stages deployed gradually (custom.deploymentSettings only)'),
    codeDeployRole: anything('an existing CodeDeploy service role ARN'),
    codeDeployRolePermissionsBoundary: anything('the permissions boundary of the created role'),
  },
};

const functionProperties = {
  properties: {
    deploymentSettings,
    alarms: {
      type: 'array',
      description: 'serverless-plugin-aws-alerts alarms: definition names or objects',
    },
  },
};

const customProperties = {
  properties: {
    deploymentSettings,
    alerts: {
      type: 'object',
      description: 'serverless-plugin-aws-alerts configuration',
    },
  },
};

module.exports = { functionProperties, customProperties };
