"""Seeds a fleet into an emulator for benchmarks: N functions per region, each with 45 minutes
of per-minute Invocations, Errors, Duration, Throttles and ConcurrentExecutions, every third
with two versions and a weighted alias, and one error alarm per ten functions.

Usage: seed_fleet.py ENDPOINT PREFIX COUNT REGION [REGION ...]
With CODE_BUCKET set, code packages are uploaded there and functions created from S3 (so that a
backup can download them through a code host in front of the emulator).
"""
import datetime
import io
import os
import sys
import zipfile

import boto3

ROLE = "arn:aws:iam::123456789012:role/lops-bench-role"


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def code(marker):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", f"def handler(e, c):\n    return '{marker}'\n")
    return buf.getvalue()


def main():
    endpoint, prefix, count, regions = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    iam = client("iam", endpoint, "us-east-1")
    try:
        iam.create_role(RoleName="lops-bench-role", AssumeRolePolicyDocument="{}")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    bucket = os.environ.get("CODE_BUCKET")
    for region in regions:
        lam = client("lambda", endpoint, region)
        cw = client("cloudwatch", endpoint, region)
        for i in range(count):
            name = f"{prefix}-fn{i}"
            package = {"ZipFile": code(name)}
            if bucket:
                key = f"seed/{region}/{name}.zip"
                client("s3", endpoint, region).put_object(Bucket=bucket, Key=key, Body=code(name))
                package = {"S3Bucket": bucket, "S3Key": key}
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler="handler.handler",
                Code=package,
            )
            if i % 3 == 0:
                for marker in ("one", "two"):
                    lam.update_function_configuration(
                        FunctionName=name, Environment={"Variables": {"RELEASE": marker}}
                    )
                    lam.publish_version(FunctionName=name)
                lam.create_alias(
                    FunctionName=name,
                    Name="live",
                    FunctionVersion="1",
                    RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
                )
            data = []
            for metric, value, unit in (
                ("Invocations", 10.0 * (i + 1), "Count"),
                ("Errors", float(i % 3), "Count"),
                ("Throttles", 0.0, "Count"),
                ("Duration", 100.0 + i, "Milliseconds"),
                ("ConcurrentExecutions", float(i + 2), "Count"),
            ):
                for m in range(3, 3 + int(os.environ.get("SEED_MINUTES", "45"))):
                    data.append(
                        {
                            "MetricName": metric,
                            "Dimensions": [{"Name": "FunctionName", "Value": name}],
                            "Timestamp": now - datetime.timedelta(minutes=m) + datetime.timedelta(seconds=10),
                            "Value": value,
                            "Unit": unit,
                        }
                    )
            for k in range(0, len(data), 500):
                cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data[k : k + 500])
            if i % 10 == 0:
                cw.put_metric_alarm(
                    AlarmName=f"{name}-errors",
                    Namespace="AWS/Lambda",
                    MetricName="Errors",
                    Dimensions=[{"Name": "FunctionName", "Value": name}],
                    Statistic="Sum",
                    Period=60,
                    EvaluationPeriods=1,
                    Threshold=5.0,
                    ComparisonOperator="GreaterThanThreshold",
                )


if __name__ == "__main__":
    main()
