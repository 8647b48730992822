"""The status read an engineer would script by hand, as the baseline lops is measured against:
per region, ListFunctions (paginated), then one GetMetricStatistics call per function and
metric (the six numbers lops shows: invocations, errors, throttles, average and p99 duration,
peak concurrency), then DescribeAlarms. Prints the calls it made and how long it took, as JSON.

Usage: baseline_status.py ENDPOINT REGION [REGION ...]
"""
import collections
import datetime
import json
import sys
import time

import boto3

CALLS = collections.Counter()


def count(event_name, **_):
    # before-send.SERVICE.OPERATION: once per HTTP request, retries included (as lops counts).
    _, service, operation = event_name.split(".", 2)
    CALLS[f"{service}:{operation}"] += 1


def client(service, endpoint, region):
    c = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    c.meta.events.register("before-send.*.*", count)
    return c


METRICS = (
    ("Invocations", {"Statistics": ["Sum"]}),
    ("Errors", {"Statistics": ["Sum"]}),
    ("Throttles", {"Statistics": ["Sum"]}),
    ("Duration", {"Statistics": ["Average"]}),
    ("Duration", {"ExtendedStatistics": ["p99"]}),
    ("ConcurrentExecutions", {"Statistics": ["Maximum"]}),
)


def main():
    endpoint, regions = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    end = datetime.datetime.now(datetime.timezone.utc)
    begin = end - datetime.timedelta(minutes=60)
    functions = 0
    for region in regions:
        lam = client("lambda", endpoint, region)
        cw = client("cloudwatch", endpoint, region)
        names = []
        for page in lam.get_paginator("list_functions").paginate():
            names += [f["FunctionName"] for f in page["Functions"]]
        functions += len(names)
        for name in names:
            for metric, stat in METRICS:
                try:
                    cw.get_metric_statistics(
                        Namespace="AWS/Lambda",
                        MetricName=metric,
                        Dimensions=[{"Name": "FunctionName", "Value": name}],
                        StartTime=begin,
                        EndTime=end,
                        Period=60,
                        **stat,
                    )
                except Exception:  # the emulator may not serve percentiles
                    pass
        for _ in cw.get_paginator("describe_alarms").paginate():
            pass
    print(
        json.dumps(
            {
                "functions": functions,
                "seconds": round(time.monotonic() - start, 3),
                "calls": dict(CALLS),
                "cloudwatch_calls": sum(n for k, n in CALLS.items() if k.startswith("cloudwatch:")),
                "total_calls": sum(CALLS.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
