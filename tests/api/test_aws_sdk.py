"""AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) against
moto server, on both serve backends and in `stepwise run`: results as the
API gives them, errors `<Service>.<Error>Exception` caught by name."""
import json
import uuid

import boto3
import pytest

from conftest import BACKENDS, ROLE, client, run_machine, serve_on, wait_for

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def machine(tag):
    sdk = "arn:aws:states:::aws-sdk:"
    return {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": sdk + "secretsmanager:createSecret",
                   "Parameters": {"Name": f"db-{tag}", "SecretString": "hunter2"},
                   "ResultSelector": {"name.$": "$.Name"}, "ResultPath": "$.created", "Next": "Get"},
        "Get": {"Type": "Task", "Resource": sdk + "secretsmanager:getSecretValue",
                "Parameters": {"SecretId": f"db-{tag}"},
                "ResultSelector": {"value.$": "$.SecretString"}, "ResultPath": "$.secret", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": sdk + "ssm:putParameter",
                "Parameters": {"Name": f"/app/{tag}", "Value": "42", "Type": "String"},
                "ResultPath": None, "Next": "Param"},
        "Param": {"Type": "Task", "Resource": sdk + "ssm:getParameter",
                  "Parameters": {"Name": f"/app/{tag}"},
                  "ResultSelector": {"value.$": "$.Parameter.Value"}, "ResultPath": "$.param", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": sdk + "secretsmanager:getSecretValue",
                    "Parameters": {"SecretId": f"nothing-{tag}"},
                    "Catch": [{"ErrorEquals": ["SecretsManager.ResourceNotFoundException"],
                               "ResultPath": "$.missing", "Next": "Machines"}],
                    "End": True},
        "Machines": {"Type": "Task", "Resource": sdk + "sfn:listStateMachines", "Parameters": {},
                     "ResultSelector": {"listed.$": "States.ArrayLength($.StateMachines)"},
                     "ResultPath": "$.sfn", "End": True}}}


def check(out, tag):
    assert out["created"] == {"name": f"db-{tag}"}
    assert out["secret"] == {"value": "hunter2"}
    assert out["param"] == {"value": "42"}
    assert out["missing"]["Error"] == "SecretsManager.ResourceNotFoundException"
    assert "Service: SecretsManager" in out["missing"]["Cause"]
    assert isinstance(out["sfn"]["listed"], int)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sdk_calls_on_both_backends(moto, backend):
    tag = uuid.uuid4().hex[:8]
    s = serve_on(backend, moto, f"sdk-{tag}", services=True)
    try:
        sfn = client(s.url)
        arn = sfn.create_state_machine(name=f"sdk-{tag}", roleArn=ROLE,
                                       definition=json.dumps(machine(tag)))["stateMachineArn"]
        d = wait_for(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"], timeout=30)
        assert d["status"] == "SUCCEEDED", d
        check(json.loads(d["output"]), tag)
    finally:
        s.stop()


def test_sdk_calls_in_stepwise_run(moto, tmp_path):
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(machine(tag)))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    check(result["output"], tag)


def protocols(tag):
    """One call or more of each protocol: restXml (S3), awsQuery (SNS, IAM
    on its partition-wide endpoint), ec2Query (EC2), restJson1 (Lambda)."""
    sdk = "arn:aws:states:::aws-sdk:"
    bucket = f"in-{tag}"

    def task(resource, parameters, result_path, nxt, **kw):
        return {"Type": "Task", "Resource": sdk + resource, "Parameters": parameters,
                "ResultPath": result_path, "Next": nxt, **kw}
    return {"StartAt": "Bucket", "States": {
        "Bucket": task("s3:createBucket", {"Bucket": bucket}, None, "Put"),
        "Put": task("s3:putObject", {"Bucket": bucket, "Key": "orders/1.json", "Body.$": "$.order",
                                     "ContentType": "application/json", "Metadata": {"source": "stepwise"}},
                    "$.put", "Get"),
        "Get": task("s3:getObject", {"Bucket": bucket, "Key": "orders/1.json"}, "$.got", "PutText"),
        # A string goes as its JSON text, quotes and all, as on AWS.
        "PutText": task("s3:putObject", {"Bucket": bucket, "Key": "notes/1.txt", "Body": "text data"}, None, "GetText"),
        "GetText": task("s3:getObject", {"Bucket": bucket, "Key": "notes/1.txt"}, "$.text", "List"),
        "List": task("s3:listObjectsV2", {"Bucket": bucket, "Prefix": "orders/"}, "$.listed", "Missing"),
        "Missing": task("s3:getObject", {"Bucket": bucket, "Key": "nope"}, "$.unused", "Topic",
                        Catch=[{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "Topic"}]),
        "Topic": task("sns:createTopic", {"Name": f"t-{tag}"}, "$.topic", "Publish"),
        "Publish": task("sns:publish", {"TopicArn.$": "$.topic.TopicArn", "Message": "hello",
                                        "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}}},
                        "$.published", "Role"),
        "Role": task("iam:createRole", {"RoleName": f"r-{tag}", "AssumeRolePolicyDocument": "{}"}, "$.role", "Vpcs"),
        "Vpcs": task("ec2:describeVpcs", {"Filters": [{"Name": "is-default", "Values": ["true"]}]}, "$.vpcs", "Functions"),
        "Functions": task("lambda:listFunctions", {"MaxItems": 5}, "$.functions", "Done"),
        "Done": {"Type": "Succeed"}}}


def test_services_of_every_protocol_against_moto(moto, tmp_path):
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(protocols(tag)))
    result = run_machine(path, "--input", json.dumps({"order": {"id": 7}}), env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["put"]["ETag"].startswith('"')
    assert json.loads(o["got"]["Body"]) == {"id": 7}
    assert o["got"]["ContentType"] == "application/json"
    assert o["text"]["Body"] == '"text data"'
    assert o["text"]["ETag"] == '"2b5df3712557f503a9977a8ea893b2c9"'  # AWS's, for this Body
    assert o["got"]["ContentLength"] == len('{"id":7}')
    assert o["got"]["Metadata"] == {"source": "stepwise"}
    assert o["listed"]["KeyCount"] == 1 and o["listed"]["IsTruncated"] is False
    assert [c["Key"] for c in o["listed"]["Contents"]] == ["orders/1.json"]
    assert o["listed"]["Contents"][0]["Size"] == len('{"id":7}')
    assert o["missing"]["Error"] == "S3.NoSuchKeyException"
    assert o["topic"]["TopicArn"].endswith(f":t-{tag}")
    assert len(o["published"]["MessageId"]) > 0
    assert o["role"]["Role"]["RoleName"] == f"r-{tag}"
    assert o["role"]["Role"]["Arn"].endswith(f":role/r-{tag}")
    assert [v["IsDefault"] for v in o["vpcs"]["Vpcs"]] == [True]
    assert o["functions"]["Functions"] == []


def test_sfn_start_execution_given_an_object_input_sends_its_text(moto, tmp_path):
    """Step Functions' API takes a document's text; Step Functions sends the
    text of an object given as `Input`."""
    sfn = boto3.client("stepfunctions", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    target = sfn.create_state_machine(name="target-" + uuid.uuid4().hex[:8], roleArn=ROLE, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
        "Parameters": {"StateMachineArn": target, "Input": {"key": "value"}}, "End": True}}}))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    started = sfn.describe_execution(executionArn=result["output"]["ExecutionArn"])
    assert json.loads(started["input"]) == {"key": "value"}


def test_an_unknown_service_fails_with_a_message(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:nosuchservice:listThings", "End": True}}}))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL="http://127.0.0.1:9"))
    assert result["status"] == "FAILED" and "not available" in result["cause"], result


def test_optimized_job_integrations_follow_their_jobs(moto, tmp_path):
    """Optimized integrations that are one API call run through the service
    models; `.sync` follows the job to its end (moto ends them at once)."""
    tag = uuid.uuid4().hex[:8]
    glue = boto3.client("glue", endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    glue.create_job(Name=f"etl-{tag}", Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/etl.py"})
    definition = {"StartAt": "Query", "States": {
        "Query": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                  "Parameters": {"QueryString": "SELECT 1", "WorkGroup": "primary",
                                 "ResultConfiguration": {"OutputLocation": "s3://results/"}},
                  "ResultPath": "$.query", "Next": "Start"},
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun",
                  "Parameters": {"JobName": f"etl-{tag}"}, "ResultPath": "$.started", "Next": "Run"},
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": f"etl-{tag}"}, "ResultPath": "$.run", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                    "Parameters": {"JobName": f"none-{tag}"}, "End": True,
                    "Catch": [{"ErrorEquals": ["Glue.EntityNotFoundException"], "ResultPath": "$.missing",
                               "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["query"]["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    assert o["query"]["QueryExecution"]["Query"] == "SELECT 1"
    assert o["started"]["JobName"] == f"etl-{tag}" and o["started"]["JobRunId"]
    assert o["run"]["JobRunState"] == "SUCCEEDED" and o["run"]["JobName"] == f"etl-{tag}"
    assert o["missing"]["Error"] == "Glue.EntityNotFoundException"


def test_emr_actions_are_step_functions_own_over_emr(moto, tmp_path):
    """elasticmapreduce:createCluster is RunJobFlow answering ClusterId,
    .sync waits for WAITING; modifyInstanceGroupByName finds the group by
    its name (a missing one fails the task); addStep takes one Step and answers StepId;
    terminateCluster.sync waits for TERMINATED."""
    emr = "arn:aws:states:::elasticmapreduce:"
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": emr + "createCluster.sync", "ResultPath": "$.cluster",
                   "Parameters": {"Name": "c", "ReleaseLabel": "emr-6.0.0", "JobFlowRole": "r", "ServiceRole": "s",
                                  "Instances": {"KeepJobFlowAliveWhenNoSteps": True, "InstanceGroups": [
                                      {"Name": "Main", "InstanceRole": "MASTER", "InstanceType": "m4.large",
                                       "InstanceCount": 1},
                                      {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m4.large",
                                       "InstanceCount": 2}]}},
                   "Next": "Resize"},
        "Resize": {"Type": "Task", "Resource": emr + "modifyInstanceGroupByName", "ResultPath": "$.resized",
                   "Parameters": {"ClusterId.$": "$.cluster.Cluster.Id", "InstanceGroupName": "Core",
                                  "InstanceGroup": {"InstanceCount": 5}},
                   "Next": "NoSuchGroup"},
        "NoSuchGroup": {"Type": "Task", "Resource": emr + "modifyInstanceGroupByName", "ResultPath": "$.nosuch",
                        "Parameters": {"ClusterId.$": "$.cluster.Cluster.Id",
                                       "InstanceGroup": {"InstanceGroupName": "Task", "InstanceCount": 1}},
                        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.nosuch", "Next": "Step"}],
                        "Next": "Step"},
        "Step": {"Type": "Task", "Resource": emr + "addStep", "ResultPath": "$.step",
                 "Parameters": {"ClusterId.$": "$.cluster.Cluster.Id",
                                "Step": {"Name": "s", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "a.jar"}}},
                 "Next": "Terminate"},
        "Terminate": {"Type": "Task", "Resource": emr + "terminateCluster.sync", "ResultPath": "$.terminated",
                      "Parameters": {"ClusterId.$": "$.cluster.Cluster.Id"}, "End": True}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["cluster"]["Cluster"]["Status"]["State"] == "WAITING"
    # The group found by its name, and changed: moto's EMR answers with its state.
    groups = boto3.client("emr", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test").list_instance_groups(ClusterId=o["cluster"]["Cluster"]["Id"])
    assert {g["Name"]: g["RequestedInstanceCount"] for g in groups["InstanceGroups"]} == {"Main": 1, "Core": 5}
    assert "no InstanceGroup named 'Task'" in o["nosuch"]["Cause"], o["nosuch"]
    assert o["step"]["StepId"].startswith("s-")
    assert o["terminated"]["Cluster"]["Status"]["State"] == "TERMINATED"


def test_eks_cluster_sync_waits_for_active_and_for_gone(moto, tmp_path):
    eks = "arn:aws:states:::eks:"
    name = "c-" + uuid.uuid4().hex[:8]
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": eks + "createCluster.sync", "ResultPath": "$.created",
                   "Parameters": {"Name": name, "RoleArn": "arn:aws:iam::123456789012:role/eks",
                                  "ResourcesVpcConfig": {"SubnetIds": ["subnet-1"]}},
                   "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": eks + "deleteCluster.sync", "ResultPath": "$.deleted",
                   "Parameters": {"Name": name}, "End": True}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["created"]["Cluster"]["Status"] == "ACTIVE"
    assert result["output"]["created"]["Cluster"]["Name"] == name
    assert result["output"]["deleted"]["Cluster"]["Name"] == name


def test_emr_serverless_application_lifecycle_sync(moto, tmp_path):
    """emr-serverless application actions with `.sync`: each waits for the
    state it asks for (CREATED, STARTED, STOPPED, TERMINATED)."""
    es = "arn:aws:states:::emr-serverless:"
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": es + "createApplication.sync", "ResultPath": "$.created",
                   "Parameters": {"Name": "app", "ReleaseLabel": "emr-6.6.0", "Type": "SPARK"}, "Next": "Start"},
        "Start": {"Type": "Task", "Resource": es + "startApplication.sync", "ResultPath": "$.started",
                  "Parameters": {"ApplicationId.$": "$.created.ApplicationId"}, "Next": "Stop"},
        "Stop": {"Type": "Task", "Resource": es + "stopApplication.sync", "ResultPath": "$.stopped",
                 "Parameters": {"ApplicationId.$": "$.created.ApplicationId"}, "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": es + "deleteApplication.sync", "ResultPath": "$.deleted",
                   "Parameters": {"ApplicationId.$": "$.created.ApplicationId"}, "End": True}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    # The result is the action's answer, given once the application is there.
    assert set(o["created"]) >= {"ApplicationId", "Name", "Arn"} and o["created"]["Name"] == "app"
    es = boto3.client("emr-serverless", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    app = es.get_application(applicationId=o["created"]["ApplicationId"])["application"]
    assert app["state"] == "TERMINATED"


def test_equals_members_are_named_equals_value(moto, tmp_path):
    """AWS's naming rule for SDK integrations: a member called `Equals` is
    `EqualsValue` in the state machine, both ways (GuardDuty, restJson1)."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"StartAt": "D", "States": {
        "D": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:guardduty:createDetector",
              "Parameters": {"Enable": True}, "ResultPath": "$.d", "Next": "F"},
        "F": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:guardduty:createFilter",
              "Parameters": {"DetectorId.$": "$.d.DetectorId", "Name": "high", "Action": "ARCHIVE",
                             "FindingCriteria": {"Criterion": {"severity": {"EqualsValue": ["8"]}}}},
              "ResultPath": "$.f", "Next": "G"},
        "G": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:guardduty:getFilter",
              "Parameters": {"DetectorId.$": "$.d.DetectorId", "FilterName": "high"},
              "ResultPath": "$.g", "End": True}}}))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["g"]["FindingCriteria"]["Criterion"]["severity"] == {"EqualsValue": ["8"]}
    gd = boto3.client("guardduty", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    stored = gd.get_filter(DetectorId=o["d"]["DetectorId"], FilterName="high")
    assert stored["FindingCriteria"]["Criterion"]["severity"]["Equals"] == ["8"]


def test_codebuild_and_sagemaker_jobs_sync(moto, tmp_path):
    """codebuild:startBuild.sync and sagemaker:createTrainingJob.sync follow
    their jobs (moto ends them on the first look) and answer as AWS does:
    `{Build}` and the training job's description."""
    tag = uuid.uuid4().hex[:8]
    cb = boto3.client("codebuild", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    cb.create_project(name=f"p-{tag}", source={"type": "S3", "location": "bucket/src.zip"},
                      artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::123456789012:role/r",
                      environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                                   "computeType": "BUILD_GENERAL1_SMALL"})
    definition = {"StartAt": "Build", "States": {
        "Build": {"Type": "Task", "Resource": "arn:aws:states:::codebuild:startBuild.sync",
                  "Parameters": {"ProjectName": f"p-{tag}"}, "ResultPath": "$.build", "Next": "Train"},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "ResultPath": "$.train", "End": True,
                  "Parameters": {"TrainingJobName": f"t-{tag}", "RoleArn": "arn:aws:iam::123456789012:role/r",
                                 "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                                 "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
                                 "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                    "VolumeSizeInGB": 1},
                                 "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(definition))
    result = run_machine(path, env=dict(AWS, AWS_ENDPOINT_URL=moto))
    assert result["status"] == "SUCCEEDED", result
    o = result["output"]
    assert o["build"]["Build"]["BuildStatus"] == "SUCCEEDED"
    assert o["build"]["Build"]["Id"].startswith(f"p-{tag}:")
    assert o["train"]["TrainingJobStatus"] == "Completed" and o["train"]["TrainingJobName"] == f"t-{tag}"
