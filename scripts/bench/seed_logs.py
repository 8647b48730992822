"""Seeds log groups for the follow benchmark: one group per function, each with a few events.

Usage: seed_logs.py ENDPOINT PREFIX COUNT REGION [REGION ...]
"""
import sys
import time

import boto3


def main():
    endpoint, prefix, count, regions = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    now = int(time.time() * 1000)
    for region in regions:
        logs = boto3.client(
            "logs",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for i in range(count):
            group = f"/aws/lambda/{prefix}-{i:02d}"
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
            logs.put_log_events(
                logGroupName=group,
                logStreamName="s",
                logEvents=[
                    {"timestamp": now - 60_000 + j * 1000, "message": f"event {j}"}
                    for j in range(5)
                ],
            )


if __name__ == "__main__":
    main()
