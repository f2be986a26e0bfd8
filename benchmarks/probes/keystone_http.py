"""
Keystone's v3 API from a lab guest (python3, stdlib only), for keystone_client.py and
keystone_admin.py (sent beside them): straight to the address given, never through a proxy the
guest's environment may name (as brinelib.keystone's token check does). Tokens and passwords
are never printed; an error names the request and the status only.
"""

import http.client
import json
import urllib.error
import urllib.request

TIMEOUT = 5.0
DEFAULT_DOMAIN = {"id": "default"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class KeystoneError(Exception):
    """A request Keystone answered with an unexpected status, or not at all."""

    def __init__(self, what, status):
        super().__init__(f"{what}: {status}")
        self.status = status


def call(method, url, body=None, token=None, subject=None, timeout=TIMEOUT):
    """``(status, headers, parsed body or None)`` of one request; an HTTP error status is an
    answer too; OSError when nothing answered, or not a whole HTTP answer."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["X-Auth-Token"] = token
    if subject:
        headers["X-Subject-Token"] = subject
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, answer, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, answer, text = exc.code, exc.headers, exc.read()
    except http.client.HTTPException as exc:  # a connection cut mid-answer
        raise ConnectionError(f"{method} {url}: {type(exc).__name__}") from None
    try:
        parsed = json.loads(text.decode("utf-8")) if text else None
    except ValueError:
        parsed = None
    return status, answer, parsed


def password_auth(user, password, project):
    """The body of ``POST /v3/auth/tokens``: ``user`` scoped to ``project``, both in the default domain."""
    return {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "domain": DEFAULT_DOMAIN, "password": password}}},
        "scope": {"project": {"name": project, "domain": DEFAULT_DOMAIN}},
    }}


def issue(base, user, password, project, timeout=TIMEOUT):
    """A token issued by the Keystone at ``base`` (``http://host:port``); KeystoneError unless 201."""
    status, headers, _ = call("POST", f"{base}/v3/auth/tokens", password_auth(user, password, project),
                              timeout=timeout)
    token = headers.get("X-Subject-Token") if headers else None
    if status != 201 or not token:
        raise KeystoneError(f"POST {base}/v3/auth/tokens", status)
    return token


def validate(base, token, timeout=TIMEOUT):
    """The status of ``GET /v3/auth/tokens`` for ``token`` at ``base``, the token validating
    itself (Keystone lets a user validate their own tokens): 200 valid, 404 not; None when
    nothing answered."""
    try:
        return call("GET", f"{base}/v3/auth/tokens?nocatalog", token=token, subject=token, timeout=timeout)[0]
    except OSError:
        return None


def read_account(path):
    """``(user, password, project)`` from the account file (one per line, root-only)."""
    with open(path, encoding="utf-8") as fh:
        user, password, project = fh.read().split("\n")[:3]
    return user, password, project
