"""sluice's Python runtime: the AWS Lambda Runtime API loop for python3.* functions.

sluice writes this file to LAMBDA_RUNTIME_DIR and runs it with python3 in the
function's code directory. It behaves like Lambda's own Python runtime: it
imports `module.function` handlers (`pkg/mod.func` or `pkg.mod.func`), passes
a Lambda context object, formats errors and logging records the way Lambda
does, and keeps one keep-alive HTTP connection to the Runtime API, on which
it pipelines each result with the request for the next event.
Standard library only.
"""

import decimal
import importlib
import json
import logging
import os
import math
import socket
import sys
import time
import traceback

BASE = "/2018-06-01/runtime/"
THIS_FILE = os.path.abspath(__file__)

_request_id = None  # the invocation in progress, for log records


class Client:
    """One keep-alive HTTP/1.1 connection to the Runtime API.

    The server is sluice, which always sends Content-Length, so a small
    parser suffices; in exchange the POST of a result and the GET of the next
    event go out in one write (pipelined), one round trip per invocation.
    """

    def __init__(self, endpoint):
        # endpoint is host:port, or the path of sluice's private Unix socket.
        if endpoint.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(endpoint)
            self.host = b"localhost"
        else:
            host, port = endpoint.rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.host = endpoint.encode("latin-1")
        self.buf = bytearray()
        self.next_request = b"GET " + BASE.encode() + b"invocation/next HTTP/1.1\r\nHost: " + self.host + b"\r\n\r\n"

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            sys.exit(0)  # sluice closed the connection: the environment is stopping
        self.buf += chunk

    def _response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        start = end + 4
        while len(self.buf) < start + length:
            self._fill()
        body = bytes(self.buf[start : start + length])
        del self.buf[: start + length]
        return int(lines[0][9:12]), headers, body

    def _post_bytes(self, path, body, error_type):
        head = "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % (
            BASE,
            path,
            self.host.decode("latin-1"),
        )
        if error_type:
            head += "Lambda-Runtime-Function-Error-Type: %s\r\n" % error_type
        head += "Content-Length: %d\r\n\r\n" % len(body)
        return head.encode("latin-1") + body

    def _event(self):
        status, headers, body = self._response()
        if status != 200:
            sys.stderr.write("sluice runtime: GET next got %d: %r\n" % (status, body))
            sys.exit(1)
        return headers, body

    def next(self):
        self.sock.sendall(self.next_request)
        return self._event()

    def post_and_next(self, path, body, error_type=None):
        self.sock.sendall(self._post_bytes(path, body, error_type) + self.next_request)
        self._check_posted(path)
        return self._event()

    def post(self, path, body, error_type=None):
        self.sock.sendall(self._post_bytes(path, body, error_type))
        self._check_posted(path)

    def _check_posted(self, path):
        status, _, data = self._response()
        if status != 202:
            sys.stderr.write("sluice runtime: POST %s got %d: %r\n" % (path, status, data))


class FaultException(Exception):
    """A runtime-level failure with a Lambda error type (Runtime.*)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class CognitoIdentity:
    def __init__(self, doc):
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")


class Client_:
    def __init__(self, doc):
        self.installation_id = doc.get("installation_id")
        self.app_title = doc.get("app_title")
        self.app_version_name = doc.get("app_version_name")
        self.app_version_code = doc.get("app_version_code")
        self.app_package_name = doc.get("app_package_name")


class ClientContext:
    def __init__(self, doc):
        self.client = Client_(doc.get("client") or {})
        self.custom = doc.get("custom")
        self.env = doc.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = arn
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)


# ---- logging, as Lambda configures it ----------------------------------------


class LambdaLoggerHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        fmt = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        fmt.converter = time.gmtime
        self.setFormatter(fmt)

    def emit(self, record):
        record.aws_request_id = _request_id
        msg = self.format(record).replace("\n", "\r")
        sys.stdout.write(msg + "\n")
        sys.stdout.flush()


def setup_logging():
    # Lambda installs its handler on the root logger and leaves its level
    # (WARNING) alone; functions raise it themselves.
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(LambdaLoggerHandler())


def log_error(doc):
    trace = "".join(doc.get("stackTrace") or [])
    line = "[ERROR] %s: %s" % (doc["errorType"], doc["errorMessage"])
    if trace:
        line += "\nTraceback (most recent call last):\n" + trace
    sys.stdout.write(line.rstrip("\n").replace("\n", "\r") + "\n")
    sys.stdout.flush()


# ---- source paths (sluice) -------------------------------------------------------
# A version runs from its snapshot (.sluice/code/trees/<sha>), so tracebacks
# name files there. With SLUICE_SOURCE_DIR set, what the function prints and
# its error documents name the service's own files instead: the ones to edit.

SOURCE_DIR = os.environ.get("SLUICE_SOURCE_DIR", "")
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "")


def source_paths(s):
    if SOURCE_DIR and TASK_ROOT and isinstance(s, str) and TASK_ROOT in s:
        return s.replace(TASK_ROOT, SOURCE_DIR)
    return s


class SourcePathWriter:
    """A text stream that writes source_paths(s) to the stream it wraps."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s):
        return self._stream.write(source_paths(s))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def map_output_paths():
    if SOURCE_DIR and TASK_ROOT and SOURCE_DIR != TASK_ROOT:
        sys.stdout = SourcePathWriter(sys.stdout)
        sys.stderr = SourcePathWriter(sys.stderr)


# ---- errors ----------------------------------------------------------------------


def user_frames(tb):
    """The traceback without this bootstrap's own frames."""
    return [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) != THIS_FILE]


def error_document(exc, request_id=""):
    if isinstance(exc, FaultException):
        return {
            "errorMessage": exc.message,
            "errorType": exc.error_type,
            "requestId": request_id,
            "stackTrace": exc.trace or [],
        }
    return {
        "errorMessage": source_paths(str(exc)),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": [source_paths(line) for line in traceback.format_list(user_frames(exc.__traceback__))],
    }


# ---- loading the handler ---------------------------------------------------------


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    if ".." in handler or handler.startswith("/"):
        raise FaultException("Runtime.MalformedHandlerName", "Bad handler '%s': relative paths are not allowed" % handler)
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                "Runtime.BuiltInModuleConflict",
                "Cannot use built-in module %s as a handler module" % modname,
            )
        module = importlib.import_module(modname.replace("/", "."))
    except FaultException:
        raise
    except ImportError as e:
        raise FaultException("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        fn = getattr(module, fname)
    except AttributeError:
        raise FaultException("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))
    if not callable(fn):
        raise FaultException("Runtime.HandlerNotFound", "Handler '%s' on module '%s' is not callable" % (fname, modname))
    return fn


# ---- invoking it -----------------------------------------------------------------


def to_json(obj):
    def default(o):
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

    return json.dumps(obj, default=default)


def parse_json(s):
    if not s:
        return None
    try:
        return json.loads(s)
    except ValueError:
        return None


def invoke(handler, headers, body):
    """Runs the handler on one event; returns what to post: (path, body, error type)."""
    global _request_id
    request_id = headers.get("lambda-runtime-aws-request-id")
    _request_id = request_id
    trace = headers.get("lambda-runtime-trace-id")
    if trace:
        os.environ["_X_AMZN_TRACE_ID"] = trace
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    context = LambdaContext(
        request_id,
        int(headers.get("lambda-runtime-deadline-ms") or 0),
        headers.get("lambda-runtime-invoked-function-arn"),
        parse_json(headers.get("lambda-runtime-client-context")),
        parse_json(headers.get("lambda-runtime-cognito-identity")),
    )
    try:
        try:
            event = json.loads(body) if body else {}
        except ValueError as e:
            raise FaultException("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
        result = handler(event, context)
        try:
            payload = to_json(result)
        except (TypeError, ValueError) as e:
            raise FaultException("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except Exception as exc:
        doc = error_document(exc, request_id)
        log_error(doc)
        flush_output()
        return "invocation/%s/error" % request_id, json.dumps(doc).encode(), doc["errorType"]
    flush_output()
    return "invocation/%s/response" % request_id, payload.encode(), None


def flush_output():
    # Everything printed during the invocation reaches the pipe before the
    # result does, so it is logged before END.
    sys.stdout.flush()
    sys.stderr.flush()


def with_fault(handler, spec):
    """SLUICE_FAULT makes a copy of a version misbehave without a change to
    its code, for `sluice rehearse`: "error" fails every invocation,
    "error:0.1" that share of them, "latency:800" holds each invocation
    800 ms before the handler runs, "none" or unset changes nothing."""
    if not spec or spec == "none":
        return handler
    kind, _, arg = spec.partition(":")
    try:
        n = float(arg) if arg else None
    except ValueError:
        n = -1
    if kind == "error" and (n is None or 0 <= n <= 1):
        share = 1.0 if n is None else n
        # Spread evenly, not drawn at random (as the Node.js bootstrap):
        # invocation k fails when k*share crosses a half.
        calls = [0]

        def failing(event, context):
            calls[0] += 1
            k = calls[0]
            if math.floor(k * share + 0.5) > math.floor((k - 1) * share + 0.5):
                raise RuntimeError("injected by sluice rehearse (SLUICE_FAULT=%s)" % spec)
            return handler(event, context)

        return failing
    if kind == "latency" and n is not None and n > 0:

        def slow(event, context):
            time.sleep(n / 1000.0)
            return handler(event, context)

        return slow
    raise FaultException("Runtime.InvalidFault", "SLUICE_FAULT=%s: use error, error:<share 0-1>, latency:<ms> or none" % spec)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    map_output_paths()
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    setup_logging()
    client = Client(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = with_fault(load_handler(os.environ.get("_HANDLER", "")), os.environ.get("SLUICE_FAULT"))
    except Exception as exc:
        doc = error_document(exc)
        doc.pop("requestId", None)
        log_error(doc)
        flush_output()
        client.post("init/error", json.dumps(doc).encode(), doc["errorType"])
        sys.exit(1)
    headers, body = client.next()
    while True:
        path, payload, error_type = invoke(handler, headers, body)
        headers, body = client.post_and_next(path, payload, error_type)


if __name__ == "__main__":
    main()
