"""
Runs on a controller (with keystone_http.py beside it): makes or deletes the benchmarks' own
Keystone account, with an admin token that this node's Keystone issues for the admin password
read from stdin: ``salt-call --out=json brine_secrets.get keystone_admin_password`` piped in,
``{"local": password}``, so it never leaves the guest.

create: the project and the user of ACCOUNT (a root-only file: user, password, project, one per
line) in the default domain, the user's password set to the file's, and the role ROLE on the
project (the user can then get project-scoped tokens and validate its own tokens). delete: the
user and the project of that name. Prints one JSON line with ids and what was done, never a
password or a token.

usage: python3 keystone_admin.py create|delete BASE ADMIN_USER ADMIN_PROJECT ACCOUNT [ROLE] < salt-call's JSON
       BASE: http://<this node's management address>:5000
"""

import functools
import json
import sys
import urllib.parse

import keystone_http
from keystone_http import DEFAULT_DOMAIN, KeystoneError, issue, read_account

# A Keystone that has just (re)started loads its application on the first request.
PATIENT = 30.0
call = functools.partial(keystone_http.call, timeout=PATIENT)


def find(base, token, collection, name):
    """The id of the ``collection`` entry named ``name`` (in the default domain), or None."""
    query = {"name": name} if collection == "roles" else {"name": name, "domain_id": DEFAULT_DOMAIN["id"]}
    status, _, body = call("GET", f"{base}/v3/{collection}?{urllib.parse.urlencode(query)}", token=token)
    if status != 200:
        raise KeystoneError(f"GET /v3/{collection}", status)
    found = body.get(collection) or []
    return found[0]["id"] if found else None


def expect(status, wanted, what):
    if status not in wanted:
        raise KeystoneError(what, status)


def create(base, token, user, password, project, role):
    done = []
    project_id = find(base, token, "projects", project)
    if project_id is None:
        status, _, body = call("POST", f"{base}/v3/projects", {"project": {
            "name": project, "domain_id": DEFAULT_DOMAIN["id"], "description": "Brine lab benchmarks"}}, token=token)
        expect(status, (201,), "POST /v3/projects")
        project_id = body["project"]["id"]
        done.append("project created")
    user_id = find(base, token, "users", user)
    if user_id is None:
        status, _, body = call("POST", f"{base}/v3/users", {"user": {
            "name": user, "domain_id": DEFAULT_DOMAIN["id"], "password": password,
            "default_project_id": project_id}}, token=token)
        expect(status, (201,), "POST /v3/users")
        user_id = body["user"]["id"]
        done.append("user created")
    else:
        status, _, _ = call("PATCH", f"{base}/v3/users/{user_id}", {"user": {"password": password}}, token=token)
        expect(status, (200,), "PATCH /v3/users/<id>")
        done.append("user's password set")
    role_id = find(base, token, "roles", role)
    if role_id is None:
        raise KeystoneError(f"role {role}", "not found")
    status, _, _ = call("PUT", f"{base}/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", token=token)
    expect(status, (200, 204), "PUT /v3/projects/<id>/users/<id>/roles/<id>")
    done.append(f"role {role} on the project")
    return {"user_id": user_id, "project_id": project_id, "done": done}


def delete(base, token, user, project):
    done = []
    for collection, name in (("users", user), ("projects", project)):
        entry = find(base, token, collection, name)
        if entry is not None:
            status, _, _ = call("DELETE", f"{base}/v3/{collection}/{entry}", token=token)
            expect(status, (204,), f"DELETE /v3/{collection}/<id>")
            done.append(f"{collection[:-1]} deleted")
    return {"done": done}


def password_from(text):
    """The value of salt-call's ``--out=json`` answer ``{"local": value}``, or None (nothing
    about what it read goes into the message: it may hold the password)."""
    try:
        value = json.loads(text).get("local")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def main():
    verb, base, admin_user, admin_project, account = sys.argv[1:6]
    role = sys.argv[6] if len(sys.argv) > 6 else "member"
    admin_password = password_from(sys.stdin.read())
    if admin_password is None:
        raise SystemExit("no admin password on stdin (salt-call --out=json brine_secrets.get keystone_admin_password)")
    user, password, project = read_account(account)
    try:
        token = issue(base, admin_user, admin_password, admin_project, timeout=PATIENT)
        result = create(base, token, user, password, project, role) if verb == "create" else delete(base, token, user, project)
    except (KeystoneError, OSError) as exc:
        result = {"error": str(exc)}
    print("JSON:" + json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
