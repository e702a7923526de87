# boto3 comes with Lambda's Python runtimes; locally, with the machine's python3.
import boto3


def handler(event, context):
    client = boto3.client("codedeploy")
    try:
        client.get_deployment(deploymentId="d-NOSUCHDEPL")
        return {"answered": "a deployment"}
    except client.exceptions.DeploymentDoesNotExistException as e:
        return {"answered": e.response["Error"]["Code"], "sdk": boto3.__file__}
