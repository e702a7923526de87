def func(event, context):
    return {"module": "pkg.mod", "input": event}
