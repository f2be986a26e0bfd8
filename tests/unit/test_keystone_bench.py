"""
The Keystone lab tests' and benchmark's parts that need no lab: the probes
(benchmarks/probes/keystone_*.py) against a small Keystone stand-in (three "controllers" sharing
one identity store, each of which can refuse tokens as a node without the keys would), and on
the host side the URLs, the benchmark account (the admin password piped inside the guest, the
account's password never in a command's error), the digests' verdict and what counts as a change
in a second orchestration, the power-off holder powered on again whatever happens, the order of
the "whole again" checks. Its figures: tests/unit/test_keystone_metrics.py.
"""

import argparse
import http.server
import io
import json
import os
import socket
import stat
import sys
import threading
import urllib.parse
from contextlib import redirect_stdout

import pytest

import keystone_failover
import keystone_lab
from brine_testlib import REPO, load_module
from lab.core import ExecResult, load_inventory

PROBES = REPO / "benchmarks" / "probes"
http_probe = load_module(PROBES / "keystone_http.py", "keystone_http")
sys.modules["keystone_http"] = http_probe  # the probes import it from beside them, as in the guest
client = load_module(PROBES / "keystone_client.py", "brine_test_keystone_client")
admin = load_module(PROBES / "keystone_admin.py", "brine_test_keystone_admin")

ADMIN_PASSWORD = "admin-secret-%&"
BENCH_PASSWORD = "bench-secret-'\""


class Identity:
    """What the controllers share (the database): users, projects, roles, assignments, tokens."""

    def __init__(self):
        self.projects = {"p-admin": "admin"}
        self.users = {"u-admin": {"name": "admin", "password": ADMIN_PASSWORD}}
        self.roles = {"r-admin": "admin", "r-member": "member"}
        self.assignments = {("p-admin", "u-admin", "r-admin")}
        self.tokens = {}
        self.lock = threading.Lock()
        self.serial = 0

    def new_id(self, prefix):
        self.serial += 1
        return f"{prefix}-{self.serial}"


class Keystone(http.server.BaseHTTPRequestHandler):
    """Keystone v3 as far as the probes use it."""

    def send(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")

    def caller(self):
        return self.server.identity.tokens.get(self.headers.get("X-Auth-Token"))

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        parts, query = url.path.strip("/").split("/"), dict(urllib.parse.parse_qsl(url.query))
        ident = self.server.identity
        with ident.lock:
            if parts == ["v3", "auth", "tokens"]:
                return self.tokens(method, ident)
            if self.caller() != "u-admin":
                return self.send(403, {"error": {"code": 403}})
            return self.admin(method, parts[1:], query, ident)

    def tokens(self, method, ident):
        if method == "POST":
            auth = self.body()["auth"]
            user = auth["identity"]["password"]["user"]
            project = auth["scope"]["project"]["name"]
            uid = next((i for i, u in ident.users.items() if u["name"] == user["name"]), None)
            pid = next((i for i, n in ident.projects.items() if n == project), None)
            if uid is None or ident.users[uid]["password"] != user["password"] or \
                    not any(a[:2] == (pid, uid) for a in ident.assignments):
                return self.send(401, {"error": {"code": 401}})
            token = ident.new_id(f"token-{self.server.name}")
            ident.tokens[token] = uid
            return self.send(201, {"token": {}}, [("X-Subject-Token", token)])
        subject = self.headers.get("X-Subject-Token")
        issued_by = str(subject).split("-")[1] if str(subject).startswith("token-") else None
        if self.server.refused & {subject, issued_by} or subject not in ident.tokens or self.caller() != ident.tokens[subject]:
            return self.send(404, {"error": {"code": 404}})
        return self.send(200, {"token": {}})

    def admin(self, method, parts, query, ident):
        collection = parts[0]
        store = {"projects": ident.projects, "users": ident.users, "roles": ident.roles}[collection]
        if method == "GET":
            found = [{"id": i, "name": v if isinstance(v, str) else v["name"]} for i, v in store.items()
                     if (v if isinstance(v, str) else v["name"]) == query.get("name")]
            return self.send(200, {collection: found})
        if method == "POST":
            entry = self.body()[collection[:-1]]
            new = ident.new_id(collection[0])
            store[new] = entry["name"] if collection == "projects" else {"name": entry["name"], "password": entry["password"]}
            return self.send(201, {collection[:-1]: {"id": new}})
        if method == "PATCH":
            store[parts[1]]["password"] = self.body()["user"]["password"]
            return self.send(200, {"user": {"id": parts[1]}})
        if method == "PUT":  # projects/<p>/users/<u>/roles/<r>
            ident.assignments.add((parts[1], parts[3], parts[5]))
            return self.send(204)
        if method == "DELETE":
            del store[parts[1]]
            return self.send(204)
        return self.send(405)

    def do_GET(self):  # noqa: N802 (http.server's names)
        self.route("GET")

    def do_POST(self):  # noqa: N802
        self.route("POST")

    def do_PATCH(self):  # noqa: N802
        self.route("PATCH")

    def do_PUT(self):  # noqa: N802
        self.route("PUT")

    def do_DELETE(self):  # noqa: N802
        self.route("DELETE")

    def log_message(self, *args):
        pass


@pytest.fixture
def cloud():
    """Three Keystone stand-ins sharing one identity: ``(identity, {url: server})``."""
    identity = Identity()
    servers = {}
    for name in ("ctl1", "ctl2", "ctl3"):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keystone)
        httpd.identity, httpd.name = identity, name
        httpd.refused = set()  # token ids, or names of the servers whose tokens this one cannot read
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers[f"http://127.0.0.1:{httpd.server_address[1]}"] = httpd
    yield identity, servers
    for httpd in servers.values():
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def account(tmp_path):
    path = tmp_path / "account"
    path.write_text(f"brine-bench\n{BENCH_PASSWORD}\nbrine-bench\n")
    return path


def run_main(module, argv, stdin="", monkeypatch=None):
    """A probe's main() with ``argv`` and ``stdin``: (its JSON line, all it printed, its exit value)."""
    monkeypatch.setattr(sys, "argv", [module.__file__, *map(str, argv)])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    with redirect_stdout(out):
        rc = module.main()
    return keystone_lab.probe_json(out.getvalue()), out.getvalue(), rc


def salt_call(password):
    """What ``salt-call --out=json brine_secrets.get keystone_admin_password`` prints."""
    return json.dumps({"local": password}, indent=4) + "\n"


def make(monkeypatch, base, account, password=ADMIN_PASSWORD):
    return run_main(admin, ["create", base, "admin", "admin", account], salt_call(password), monkeypatch)


def test_the_admin_probe_makes_the_account_once_and_sets_its_password_again(cloud, account, monkeypatch):
    identity, servers = cloud
    base = next(iter(servers))
    answer, printed, rc = make(monkeypatch, base, account)
    assert rc == 0 and answer["done"] == ["project created", "user created", "role member on the project"]
    assert (answer["project_id"], answer["user_id"], "r-member") in identity.assignments
    assert client.issue_status(base, http_probe.read_account(account))[0]
    account.write_text(f"brine-bench\nanother\nbrine-bench\n")
    again, printed_again, rc = make(monkeypatch, base, account)
    assert rc == 0 and again["done"] == ["user's password set", "role member on the project"]
    assert again["user_id"] == answer["user_id"] and again["project_id"] == answer["project_id"]
    assert identity.users[answer["user_id"]]["password"] == "another"
    for text in (printed, printed_again):
        assert ADMIN_PASSWORD not in text and BENCH_PASSWORD not in text and "another" not in text
        assert "token-" not in text


def test_the_admin_probe_deletes_the_account(cloud, account, monkeypatch):
    identity, servers = cloud
    base = next(iter(servers))
    make(monkeypatch, base, account)
    answer, _, rc = run_main(admin, ["delete", base, "admin", "admin", account], salt_call(ADMIN_PASSWORD), monkeypatch)
    assert rc == 0 and answer == {"done": ["user deleted", "project deleted"]}
    assert set(identity.users) == {"u-admin"} and set(identity.projects) == {"p-admin"}
    answer, _, rc = run_main(admin, ["delete", base, "admin", "admin", account], salt_call(ADMIN_PASSWORD), monkeypatch)
    assert rc == 0 and answer == {"done": []}


def test_the_admin_probe_names_a_refusal_without_the_password(cloud, account, monkeypatch):
    _, servers = cloud
    answer, printed, rc = make(monkeypatch, next(iter(servers)), account, password="wrong-admin-password")
    assert rc == 1 and answer == {"error": f"POST {next(iter(servers))}/v3/auth/tokens: 401"}
    assert "wrong-admin-password" not in printed and BENCH_PASSWORD not in printed
    for said in ("", "local:\n    " + ADMIN_PASSWORD, json.dumps({"local": False}), "[]"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(said))
        monkeypatch.setattr(sys, "argv", ["keystone_admin.py", "create", "http://x", "admin", "admin", account])
        with pytest.raises(SystemExit) as refused:
            admin.main()
        assert "no admin password on stdin" in str(refused.value) and ADMIN_PASSWORD not in str(refused.value)


def test_the_probes_ignore_a_proxy_in_the_environment(cloud, account, monkeypatch):
    _, servers = cloud
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    answer, _, rc = make(monkeypatch, next(iter(servers)), account)
    assert rc == 0 and "user_id" in answer


@pytest.fixture
def bench(cloud, account, monkeypatch):
    """The cloud with the benchmark account made: ``(servers, account file, urls)``."""
    identity, servers = cloud
    make(monkeypatch, next(iter(servers)), account)
    return servers, account, list(servers)


def test_check_issues_on_each_issuer_and_validates_on_every_validator(bench, monkeypatch):
    servers, account, urls = bench
    servers[urls[2]].refused.add("ctl1")  # ctl3 lacks the key ctl1 issues with
    answer, printed, _ = run_main(client, ["check", account, ",".join(urls), ",".join(urls)], monkeypatch=monkeypatch)
    assert answer["issuers"][urls[0]] == {"issued": True, "validated": {urls[0]: 200, urls[1]: 200, urls[2]: 404}}
    assert answer["issuers"][urls[1]] == {"issued": True, "validated": dict.fromkeys(urls, 200)}
    assert "token-" not in printed and BENCH_PASSWORD not in printed
    account.write_text("brine-bench\nwrong\nbrine-bench\n")
    answer, _, _ = run_main(client, ["check", account, urls[0], ",".join(urls)], monkeypatch=monkeypatch)
    assert answer["issuers"] == {urls[0]: {"issued": 401, "validated": {}}}


def test_nothing_answering_is_a_status_of_none():
    assert client.issue_status("http://127.0.0.1:9", ("u", "p", "q")) == (None, None)
    assert http_probe.validate("http://127.0.0.1:9", "t") is None


def test_issue_keeps_the_tokens_in_a_root_only_file_and_verify_validates_each_everywhere(bench, tmp_path, monkeypatch):
    servers, account, urls = bench
    tokens = tmp_path / "tokens"
    answer, printed, _ = run_main(client, ["issue", account, tokens, 2, ",".join(urls)], monkeypatch=monkeypatch)
    assert answer == {"issued": 6, "failed": 0} and "token-" not in printed
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    held = json.loads(tokens.read_text())
    servers[urls[1]].refused.add(held[0][1])
    answer, printed, _ = run_main(client, ["verify", account, tokens, ",".join(urls)], monkeypatch=monkeypatch)
    assert answer["tokens"] == 6 and "token-" not in printed
    assert [issuer for issuer, _ in answer["results"]] == [urls[0], urls[0], urls[1], urls[1], urls[2], urls[2]]
    assert answer["results"][0][1] == {urls[0]: 200, urls[1]: 404, urls[2]: 200}
    assert all(set(statuses.values()) == {200} for _, statuses in answer["results"][1:])


def test_load_asks_at_the_rate_and_records_every_attempt(bench, monkeypatch):
    _, account, urls = bench
    answer, _, _ = run_main(client, ["load", account, urls[0], 0.5, 20, 4], monkeypatch=monkeypatch)
    attempts = answer["attempts"]
    assert answer["duration"] == 0.5 and answer["rate"] == 20 and answer["errors"] == {}
    assert len(attempts) == 10 and all(ok for _, _, ok in attempts)
    assert all(sent <= done for sent, done, _ in attempts) and attempts == sorted(attempts)
    answer, _, _ = run_main(client, ["load", account, "http://127.0.0.1:9", 0.2, 10], monkeypatch=monkeypatch)
    assert answer["errors"] == {"no answer": 2} and not any(ok for _, _, ok in answer["attempts"])


def test_an_answer_cut_short_is_no_answer():
    listener = socket.create_server(("127.0.0.1", 0))

    def cut():
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 201 Created\r\nX-Subject-Token: t\r\nContent-Length: 100\r\n\r\n{}")
            conn.close()

    threading.Thread(target=cut, daemon=True).start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with listener:
        assert client.issue_status(base, ("u", "p", "q")) == (None, None)
        assert http_probe.validate(base, "t") is None


def test_watch_validates_each_token_at_once_and_again_after_the_lookback(bench, tmp_path, monkeypatch):
    servers, account, urls = bench
    servers[urls[2]].refused.add("ctl2")
    answer, _, _ = run_main(client, ["watch", account, 1.0, 0.1, 0.25, ",".join(urls[:2]), ",".join(urls)],
                            monkeypatch=monkeypatch)
    assert answer["issued"] >= 4 and answer["issue_failures"] == []
    # each token validated on the 3 validators at once, and again once older than the lookback
    assert answer["issued"] * 3 < answer["validations"] <= answer["issued"] * 6
    failed = [(issuer, validator, status) for _, _, issuer, validator, status in answer["failures"]]
    assert set(failed) == {(urls[1], urls[2], 404)} and len(failed) > answer["issued"] // 2
    stop = tmp_path / "stop"
    stop.touch()
    answer, _, _ = run_main(client, ["watch", account, 60, 0.1, 0.15, urls[0], urls[0], stop], monkeypatch=monkeypatch)
    assert answer["issued"] == 0 and answer["validations"] == 0


def test_base_urls_are_the_internal_vip_and_each_controllers_management_address():
    _, inventory = load_inventory()
    assert keystone_lab.base_urls(inventory) == {
        "vip": "http://10.10.0.100:5000", "ubuntu1": "http://10.10.0.11:5000",
        "ubuntu2": "http://10.10.0.12:5000", "ubuntu3": "http://10.10.0.13:5000"}


class FakeLab:
    """Records the commands; ``answers`` maps a command's fragment to (returncode, output)."""

    def __init__(self, answers=None):
        self.commands, self.answers = [], answers or {}

    def exec(self, host, command, timeout=120):
        self.commands.append((host, command))
        returncode, output = next((v for k, v in self.answers.items() if k in command), (0, ""))
        return ExecResult(host, command, returncode, output)


def test_the_account_is_made_with_the_admin_password_piped_inside_the_controller():
    _, inventory = load_inventory()
    lab = FakeLab({"| /usr/bin/python3 /root/keystone_admin.py create": (0, 'JSON:{"user_id": "u", "project_id": "p", "done": []}\n')})
    password = keystone_lab.make_account(lab, inventory, "ubuntu1")
    made = [c for h, c in lab.commands if c.startswith("salt-call")]
    assert len(made) == 1 and len(password) >= 24
    assert made[0].startswith("salt-call --out=json brine_secrets.get keystone_admin_password 2>")
    assert "| /usr/bin/python3 /root/keystone_admin.py create http://10.10.0.11:5000 admin admin " in made[0]
    assert made[0].endswith(f"rm -f {keystone_lab.ACCOUNT_FILE}; exit $rc")
    holding = [(h, c) for h, c in lab.commands if password in c]
    assert [h for h, _ in holding] == ["ubuntu1", "bootstrap"]
    assert all(c.startswith("umask 077; printf ") and c.endswith(f"> {keystone_lab.ACCOUNT_FILE}") for _, c in holding)


def test_a_failed_account_is_named_without_its_password():
    _, inventory = load_inventory()
    lab = FakeLab({"| /usr/bin/python3 /root/keystone_admin.py create": (1, 'JSON:{"error": "POST http://x/v3/auth/tokens: 401"}\n'),
                   "tail -c": (0, "salt-call: minion not answering\n")})
    with pytest.raises(RuntimeError) as error:
        keystone_lab.make_account(lab, inventory, "ubuntu1")
    written = next(c for _, c in lab.commands if "printf" in c)
    assert "401" in str(error.value) and "minion not answering" in str(error.value)
    assert written.split("'%s\\n%s\\n%s\\n' brine-bench ")[1].split()[0] not in str(error.value)
    failing = FakeLab({"printf": (2, "disk full\n")})
    with pytest.raises(RuntimeError) as error:
        keystone_lab.make_account(failing, inventory, "ubuntu1")
    assert "writing the benchmark's Keystone account file failed (rc=2): disk full" in str(error.value)
    assert "printf" not in str(error.value)


def test_digests_equal_only_when_every_kind_is_one_known_digest():
    same = {"fernet": {"a": "d1", "b": "d1"}, "credential": {"a": "c", "b": "c"}}
    assert keystone_lab.digests_equal(same)
    assert not keystone_lab.digests_equal({**same, "fernet": {"a": "d1", "b": "d2"}})
    assert not keystone_lab.digests_equal({**same, "credential": {"a": None, "b": None}})


def step(run_num, changes=None, result=True, sid="x"):
    return {"__run_num__": run_num, "__id__": sid, "result": result, "changes": changes or {}, "comment": ""}


def orchestration(runner_return):
    return {"data": {"master_master": {
        "salt_|-keystone-bootstrap_|-keystone-bootstrap_|-state": step(4, sid="keystone-bootstrap"),
        "salt_|-keystone-configured_|-keystone-configured_|-state": step(0, sid="keystone-configured"),
        "salt_|-keystone-keys_|-brine_keystone.sync_keys_|-runner": step(2, {"return": runner_return}, sid="keystone-keys"),
    }}, "outputter": "highstate", "retcode": 0}


IN_SYNC = {kind: {"action": "in sync", "nodes": {"ubuntu1": {"added": [], "removed": [], "digest": "d"}}}
           for kind in ("fernet", "credential")}


def test_a_second_orchestration_with_keys_in_sync_changed_nothing():
    assert keystone_lab.orchestration_changes(orchestration(IN_SYNC)) == []


def test_a_relay_a_key_written_a_state_change_or_a_failure_is_a_change():
    relayed = {**IN_SYNC, "fernet": {"action": "relay", "nodes": {}}}
    assert keystone_lab.orchestration_changes(orchestration(relayed)) == ["keystone-keys"]
    added = {**IN_SYNC, "credential": {"action": "in sync", "nodes": {"ubuntu2": {"added": [3], "removed": []}}}}
    assert keystone_lab.orchestration_changes(orchestration(added)) == ["keystone-keys"]
    out = orchestration(IN_SYNC)
    steps = out["data"]["master_master"]
    steps["salt_|-keystone-bootstrap_|-keystone-bootstrap_|-state"]["changes"] = {"ret": {"ubuntu1": {}}}
    steps["salt_|-keystone-configured_|-keystone-configured_|-state"]["result"] = False
    assert keystone_lab.orchestration_changes(out) == ["keystone-configured", "keystone-bootstrap"]
    assert keystone_lab.orchestration_changes({"data": {}})[0].startswith("no state results")


class PowerLab(FakeLab):
    """A lab whose guests power off and on; the probe's output file holds ``out``."""

    def __init__(self, out='JSON:{"attempts": [], "began": 0, "duration": 1, "rate": 10, "errors": {}}\n'):
        super().__init__({"cat /root/keystone_client.py.out": (0, out)})
        self.running, self.events = {"ubuntu1", "ubuntu2", "ubuntu3"}, []

    def exec(self, host, command, timeout=120):
        if command.startswith("cat /root/keystone_client.py.out"):
            self.events.append(("collect", host))
        return super().exec(host, command, timeout)

    def kill(self, name):
        self.running.discard(name)
        self.events.append(("kill", name))

    def start(self, name):
        self.running.add(name)
        self.events.append(("start", name))

    def is_running(self, name):
        return name in self.running


def power_args(**overrides):
    return argparse.Namespace(**{"duration": 1.0, "rate": 10.0, "workers": 2, "kill_at": 0.0, "power_on_at": None,
                                 **overrides})


def test_the_holder_is_powered_on_after_the_load_or_at_the_set_time():
    lab = PowerLab()
    result, killed_at, powered_on = keystone_failover.load_across_power_off(lab, "ubuntu2", "http://10.10.0.100:5000", power_args())
    assert lab.events == [("kill", "ubuntu2"), ("collect", "bootstrap"), ("start", "ubuntu2")] and result["rate"] == 10
    assert killed_at > 0 and powered_on is not None
    started = [c for _, c in lab.commands if "keystone_client.py load" in c]
    assert len(started) == 1 and "load /root/brine-bench-keystone http://10.10.0.100:5000 1.0 10.0 2 " in started[0]
    lab = PowerLab()
    keystone_failover.load_across_power_off(lab, "ubuntu2", "http://v", power_args(power_on_at=0.1))
    assert lab.events == [("kill", "ubuntu2"), ("start", "ubuntu2"), ("collect", "bootstrap")]


def test_the_holder_is_powered_on_again_when_the_load_fails():
    lab = PowerLab()

    def broken(host, command, timeout=120):
        if "cat /root/keystone_client.py.out" in command:
            raise OSError("the command channel closed")
        return FakeLab.exec(lab, host, command, timeout)

    lab.exec = broken
    with pytest.raises(OSError):
        keystone_failover.load_across_power_off(lab, "ubuntu3", "http://v", power_args())
    assert lab.events == [("kill", "ubuntu3"), ("start", "ubuntu3")] and lab.is_running("ubuntu3")


def test_not_whole_names_the_first_part_still_missing_and_checks_no_further(monkeypatch):
    asked = []
    state = {"galera": True, "rabbitmq": False, "keystone": True, "keys": True}
    monkeypatch.setattr(keystone_failover, "synced_in_cluster_of", lambda lab, n: asked.append("galera") or (3 if state["galera"] else 2))
    monkeypatch.setattr(keystone_failover, "rabbitmq_whole", lambda lab, ctl: asked.append("rabbitmq") or state["rabbitmq"])
    monkeypatch.setattr(keystone_failover, "keystone_whole", lambda lab, ctl, urls: asked.append("keystone") or state["keystone"])
    monkeypatch.setattr(keystone_failover, "key_digests", lambda lab: asked.append("keys") or {"fernet": {"a": "d", "b": "d"}})
    lab, ctl = PowerLab(), ["ubuntu1", "ubuntu2", "ubuntu3"]
    assert keystone_failover.not_whole(lab, ctl, {}) == "rabbitmq" and "keystone" not in asked
    state["rabbitmq"] = True
    assert keystone_failover.not_whole(lab, ctl, {}) is None and asked[-2:] == ["keystone", "keys"]
    lab.running.discard("ubuntu2")
    asked.clear()
    assert keystone_failover.not_whole(lab, ctl, {}) == "power" and asked == []
