'use strict';
// No node_modules here: Lambda's runtime provides @aws-sdk/client-codedeploy.
const { CodeDeployClient, GetDeploymentCommand } = require('@aws-sdk/client-codedeploy');

exports.handler = async () => {
  try {
    await new CodeDeployClient({}).send(new GetDeploymentCommand({ deploymentId: 'd-NOSUCHDEPL' }));
    return { answered: 'a deployment' };
  } catch (err) {
    // The engine's CodeDeploy API answered, through the real SDK.
    return { answered: err.name, sdk: require.resolve('@aws-sdk/client-codedeploy') };
  }
};
