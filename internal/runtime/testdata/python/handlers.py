"""Handlers exercising the Python bootstrap, one function per behaviour."""
import decimal
import logging
import os
import sys
import time

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def echo(event, context):
    return event


def pid(event, context):
    return os.getpid()


def context_fields(event, context):
    return {
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "awsRequestId": context.aws_request_id,
        "logGroupName": context.log_group_name,
        "logStreamName": context.log_stream_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "clientCustom": context.client_context.custom if context.client_context else None,
        "traceId": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def env(event, context):
    return {"env": dict(os.environ), "cwd": os.getcwd()}


def fail(event, context):
    raise ValueError("bad value")


def crash(event, context):
    os._exit(1)


def hang(event, context):
    time.sleep(3600)


def log(event, context):
    print("hello from print")
    logger.info("first line\nsecond line")
    print("to stderr", file=sys.stderr)
    return "logged"


def not_serializable(event, context):
    return object()


def money(event, context):
    return {"price": decimal.Decimal("9.50"), "count": decimal.Decimal("3")}


not_callable = 42


def act(event, context):
    """Does what the event says; tests needing several behaviours use it."""
    action = event.get("action")
    if action == "pid":
        return os.getpid()
    if action == "hang":
        time.sleep(3600)
    if action == "crash":
        os._exit(1)
    if action == "log":
        print("hello from print")
        logger.info("first line\nsecond line")
        print("to stderr", file=sys.stderr)
        return "logged"
    if action == "fail":
        raise ValueError("failed on purpose")
    if action == "env":
        return {"env": dict(os.environ), "cwd": os.getcwd()}
    raise ValueError("unknown action %s" % action)


def hog(event, context):
    """Allocates until the memory limit ends the process."""
    keep = []
    while True:
        keep.append(b"x" * (8 << 20))
