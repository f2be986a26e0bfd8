"""brine_keystone_service's live layer against a fake MariaDB client, a fake keystone-manage and
a small HTTP server answering token requests as Keystone would; the states' returns. Passwords
travel only on stdin and in the environment, never in argv, returns or messages."""

import http.server
import json
import subprocess
import threading
import types

import pytest
from brine_testlib import example_inventory, free_port, load_extension
from brinelib import keystone

import brine_inventory

module = load_extension("modules", "brine_keystone_service")
state = load_extension("states", "brine_keystone_service")
SECRETS = {"keystone_db_password": "db-secret'pw", "keystone_admin_password": "admin-secret pw"}


@pytest.fixture
def inv():
    return brine_inventory.normalise(example_inventory())


class FakeRun:
    """brinelib.commands.run: the MariaDB client as a server with ``missing`` parts, keystone-manage
    with a schema ``check`` status; records argv, stdin and the environment of every call."""

    def __init__(self):
        self.missing = ["database", "user", "grant"]
        self.check = 2
        self.bootstrap_rc = 0
        self.calls = []
        self.on_bootstrap = lambda: None

    def __call__(self, argv, check=True, timeout=60, input=None, env=None, **kwargs):  # noqa: A002
        self.calls.append({"argv": list(argv), "input": input, "env": env})
        out, rc = "", 0
        if argv[0] == module.MARIADB_CLIENT:
            if input.startswith("SELECT"):
                out = "\t".join("0" if n in self.missing else "1" for n in ("database", "user", "grant")) + "\n"
            else:
                self.missing = []
        elif argv[-2:] == ["db_sync", "--check"]:
            rc = self.check
        elif argv[-1] == "db_sync":
            self.check = 0
        elif argv[-1] == "bootstrap":
            rc = self.bootstrap_rc
            self.on_bootstrap()
        return subprocess.CompletedProcess(argv, rc, out, "boom" if rc else "")


@pytest.fixture
def fake(monkeypatch, inv):
    run = FakeRun()
    monkeypatch.setattr(module, "commands", types.SimpleNamespace(run=run))
    monkeypatch.setattr(module, "__salt__", {"brine_inventory.get": lambda: inv,
                                             "brine_secrets.get": SECRETS.__getitem__}, raising=False)
    monkeypatch.setattr(module, "__grains__", {"id": "ubuntu1"}, raising=False)
    return run


def no_secret_in(value):
    text = json.dumps(value, default=str)
    return all(secret not in text for secret in SECRETS.values())


def test_config_and_site_from_the_inventory_and_secret(fake):
    conf = keystone.parse_ini(module.config())
    assert "db-secret%27pw@internal.lab.home.arpa" in conf["database"]["connection"]
    assert "Listen 10.10.0.11:5000" in module.site()
    assert "Listen 10.10.0.13:5000" in module.site(minion_id="ubuntu3")
    assert module.preseed() == keystone.preseed()


def test_a_bad_setting_is_salts_error(fake):
    with pytest.raises(module.CommandExecutionError, match="keystone:port"):
        module.site(settings={"port": "x"})


def test_database_made_over_stdin_then_left_alone(fake):
    assert module.database(test=True) == {"changed": ["database", "user", "grant"], "test": True}
    assert len(fake.calls) == 1
    assert module.database() == {"changed": ["database", "user", "grant"], "test": False}
    assert module.database() == {"changed": [], "test": False}
    statements = [c["input"] for c in fake.calls if not c["input"].startswith("SELECT")]
    assert len(statements) == 1 and "GRANT ALL PRIVILEGES ON `keystone`.* TO 'keystone'@'10.10.0.0/255.255.255.0'" in statements[0]
    for call in fake.calls:
        assert no_secret_in(call["argv"]) and call["argv"][1] == "--socket=/run/mysqld/mysqld.sock"
    assert "db-secret\\'pw" in statements[0]


def test_database_still_missing_after_creation_fails(fake, monkeypatch):
    original = fake.__call__

    def stubborn(argv, **kwargs):
        result = original(argv, **kwargs)
        fake.missing = ["grant"]
        return result

    monkeypatch.setattr(module, "commands", types.SimpleNamespace(run=stubborn))
    with pytest.raises(module.CommandExecutionError, match="still missing after creating it: grant"):
        module.database()


def test_a_client_error_quoting_the_statement_is_masked(fake, monkeypatch):
    said = "ERROR 1064 (42000) near 'IDENTIFIED BY 'db-secret\\'pw'' at line 2"

    def refused(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, "", said)

    monkeypatch.setattr(module, "commands", types.SimpleNamespace(run=refused))
    with pytest.raises(module.CommandExecutionError, match=r"mariadb client failed \(1\): ERROR 1064") as err:
        module.database()
    assert no_secret_in(str(err.value)) and "db-secret" not in str(err.value) and "near" not in str(err.value)
    said = "ERROR 1045 (28000): Access denied for user 'x' using password db-secret'pw"
    with pytest.raises(module.CommandExecutionError) as err:
        module.database()
    assert "db-secret" not in str(err.value) and "****" in str(err.value)


def test_schema_synced_once_as_the_keystone_user(fake):
    assert module.schema(test=True) == {"changed": True, "test": True}
    assert module.schema() == {"changed": True, "test": False}
    assert module.schema() == {"changed": False, "test": False}
    argvs = [c["argv"] for c in fake.calls]
    assert argvs.count(["runuser", "-u", "keystone", "--", "keystone-manage", "db_sync"]) == 1
    assert all(a[:4] == ["runuser", "-u", "keystone", "--"] for a in argvs)


def test_schema_contract_outstanding_is_synced(fake):
    fake.check = 4
    assert module.schema()["changed"] is True and fake.check == 0


def test_schema_check_failure_is_named(fake):
    fake.check = 1
    with pytest.raises(module.CommandExecutionError, match=r"db_sync --check failed \(1\): boom"):
        module.schema()


class Keystone(http.server.BaseHTTPRequestHandler):
    """POST /v3/auth/tokens: 401 until bootstrapped, then a token with ``catalog``."""

    server_version = "fake-keystone"

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        password = body["auth"]["identity"]["password"]["user"]["password"]
        if self.server.catalog is None or password != self.server.password:
            self.send_response(401)
            self.end_headers()
            return
        data = json.dumps({"token": {"catalog": self.server.catalog}}).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(inv):
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Keystone)
    httpd.requests, httpd.catalog, httpd.password = [], None, SECRETS["keystone_admin_password"]
    inv["hosts"]["ubuntu1"]["networks"]["management"]["address"] = "127.0.0.1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, {"port": port}
    httpd.shutdown()
    httpd.server_close()


def catalog_of(inv, settings):
    urls = keystone.endpoints(inv, settings)
    return [{"type": "identity", "endpoints": [
        {"interface": i, "url": u, "region_id": "RegionOne"} for i, u in urls.items()]}]


def test_bootstrap_runs_once_with_the_password_in_the_environment_only(fake, server, inv):
    httpd, settings = server
    fake.on_bootstrap = lambda: setattr(httpd, "catalog", catalog_of(inv, settings))
    plan = module.bootstrap(test=True, settings=settings)
    assert plan["changed"] is True and plan["test"] is True and not fake.calls
    done = module.bootstrap(settings=settings)
    assert done["changed"] is True and no_secret_in(done)
    again = module.bootstrap(settings=settings)
    assert again == {"changed": False, "problems": [], "test": False}
    (call,) = fake.calls
    assert call["argv"] == ["runuser", "-u", "keystone", "--", "keystone-manage", "bootstrap"]
    assert call["env"]["OS_BOOTSTRAP_PASSWORD"] == SECRETS["keystone_admin_password"]
    assert call["env"]["OS_BOOTSTRAP_REGION_ID"] == "RegionOne"
    assert httpd.requests[0][0] == "/v3/auth/tokens"


def test_a_moved_endpoint_is_bootstrapped_again(fake, server, inv):
    httpd, settings = server
    httpd.catalog = catalog_of(inv, settings)
    httpd.catalog[0]["endpoints"][0]["url"] = "http://old:5000/v3"
    fake.on_bootstrap = lambda: setattr(httpd, "catalog", catalog_of(inv, settings))
    assert module.bootstrap(settings=settings)["problems"] == [
        f"public endpoint in RegionOne: http://old:5000/v3, wanted https://cloud.lab.home.arpa:{settings['port']}/v3"]


def test_bootstrap_that_changes_nothing_fails(fake, server):
    _, settings = server
    with pytest.raises(module.CommandExecutionError, match="bootstrap ran, but: the admin user"):
        module.bootstrap(settings=settings)


def test_bootstrap_failure_is_named_without_the_password(fake, server):
    _, settings = server
    fake.bootstrap_rc = 1
    with pytest.raises(module.CommandExecutionError, match=r"bootstrap failed \(1\): boom") as err:
        module.bootstrap(settings=settings)
    assert no_secret_in(str(err.value))


def test_the_token_request_ignores_a_proxy_in_the_environment(fake, server, monkeypatch):
    httpd, settings = server
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("no_proxy", "")
    assert module.bootstrap(test=True, settings=settings)["changed"] is True
    assert httpd.requests


def test_bootstrap_needs_keystone_answering(fake, inv):
    inv["hosts"]["ubuntu1"]["networks"]["management"]["address"] = "127.0.0.1"
    with pytest.raises(module.CommandExecutionError, match="is not answering"):
        module.bootstrap(settings={"port": free_port()})
    assert not fake.calls


# --------------------------------------------------------------------------- states


@pytest.fixture
def states(monkeypatch):
    calls = []
    plans = {"database": [], "schema": [], "bootstrap": []}

    def function(name):
        def fn(test=False, settings=None):
            calls.append((name, test))
            result = plans[name].pop(0)
            if isinstance(result, Exception):
                raise result
            return result
        return fn

    monkeypatch.setattr(state, "__salt__", {f"brine_keystone_service.{n}": function(n) for n in plans}, raising=False)
    monkeypatch.setattr(state, "__opts__", {"test": False}, raising=False)
    return plans, calls


def test_states_change_once_and_report_the_same_in_test_mode(states):
    plans, calls = states
    plans["database"] += [{"changed": ["user"]}, {"changed": ["user"]}]
    ret = state.database_present("keystone")
    assert ret["result"] is True and ret["changes"] == {"created": ["user"]}
    assert calls == [("database", True), ("database", False)]
    state.__opts__["test"] = True
    plans["schema"].append({"changed": True})
    ret = state.schema_synced("keystone")
    assert ret["result"] is None and ret["changes"] == {"db_sync": True}


def test_states_unchanged_and_failed(states):
    plans, _ = states
    plans["bootstrap"].append({"changed": False, "problems": []})
    ret = state.bootstrapped("keystone")
    assert ret["result"] is True and ret["changes"] == {}
    plans["bootstrap"].append(module.CommandExecutionError("Keystone at x is not answering"))
    ret = state.bootstrapped("keystone")
    assert ret["result"] is False and "not answering" in ret["comment"]
    plans["bootstrap"] += [{"changed": True, "problems": ["p"]}, {"changed": True, "problems": ["p"]}]
    assert state.bootstrapped("keystone")["changes"] == {"bootstrap": ["p"]}
