import json
import os


def handle(event, context):
    # One line per invocation, for the test to read.
    with open(os.environ["TICK_FILE"], "a") as f:
        f.write(json.dumps(event) + "\n")
    return {"ok": True}
