"""The live layer (brine_rabbitmq) against a fake rabbitmqctl: the password only on stdin, the
join step's commands, the account's idempotence; the brine_rabbitmq states' returns; the
partition check script; the inventory's rabbitmq and memcached settings in brine_inventory."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest
from brine_testlib import REPO, example_inventory, load_extension
from brinelib import rabbitmq

import brine_inventory

module = load_extension("modules", "brine_rabbitmq")
state = load_extension("states", "brine_rabbitmq")
SCRIPT = REPO / "salt/rabbitmq/files/brine-rabbitmq-partitions.py"
N1, N2 = "rabbit@ubuntu1", "rabbit@ubuntu2"
PASSWORD = "s3cret pass"


class FakeCtl:
    """rabbitmqctl as a broker with ``vhosts``, ``users`` (name: password), ``permissions`` and
    ``queues``; records every call's argv and stdin."""

    def __init__(self, members=(N2,)):
        self.vhosts = {"/": "undefined"}
        self.users = {"guest": "guest"}
        self.permissions = {}
        self.queues = {}
        self.members = list(members)
        self.calls = []

    def __call__(self, args, node=None, stdin=None, timeout=None):
        self.calls.append((list(args), node, stdin))
        verb, rest = args[0], [a for a in args[1:] if a not in ("--formatter", "json", "--quiet")]
        if verb == "cluster_status":
            return 0, json.dumps({"disk_nodes": self.members, "running_nodes": self.members, "partitions": {}}), ""
        if verb == "eval":
            return 0, json.dumps({"node": node, "result": "ok", "value": self.account_facts(stdin)}), ""
        if verb == "list_vhosts":
            return 0, json.dumps([{"name": n, "default_queue_type": t} for n, t in self.vhosts.items()]), ""
        if verb == "list_users":
            return 0, json.dumps([{"user": u, "tags": []} for u in self.users]), ""
        if verb == "list_queues":
            return 0, json.dumps([{"name": q} for q in self.queues.get(rest[1], [])]), ""
        if verb == "list_permissions":
            return 0, json.dumps(self.permissions.get(rest[1], [])), ""
        if verb == "add_vhost":
            self.vhosts[rest[0]] = rest[2]
        elif verb in ("add_user", "change_password"):
            self.users[rest[0]] = stdin.rstrip("\n")
        elif verb == "authenticate_user":
            return (0 if self.users.get(rest[0]) == stdin.rstrip("\n") else 65), "", "invalid credentials"
        elif verb == "set_permissions":
            vhost, user, conf, write, read = rest[1:]
            self.permissions.setdefault(vhost, []).append({"user": user, "configure": conf, "write": write, "read": read})
        elif verb == "join_cluster":
            self.members = sorted(self.members + [rest[0]])
        return 0, "", ""

    def account_facts(self, expression):
        """What the account query (brinelib.rabbitmq.account_query) returns from this broker: its
        user and password are the two binaries the expression builds from bytes."""
        user, password = (bytes(int(b) for b in found.split(",")).decode()
                          for found in re.findall(r"list_to_binary\(\[([0-9,]*)\]\)", expression))
        return {"vhosts": [{"name": n, "default_queue_type": t} for n, t in self.vhosts.items()],
                "user": user in self.users, "login": self.users.get(user) == password,
                "permissions": [{"vhost": v, **{k: p[k] for k in ("configure", "write", "read")}}
                                for v, entries in self.permissions.items() for p in entries if p["user"] == user]}

    def verbs(self):
        return [argv[0] for argv, _, _ in self.calls]


@pytest.fixture
def ctl(monkeypatch):
    fake = FakeCtl()
    monkeypatch.setattr(module, "_ctl", fake)
    monkeypatch.setattr(module, "__salt__", {"brine_secrets.get": {"rabbitmq_password": PASSWORD}.__getitem__},
                        raising=False)
    return fake


def test_the_account_is_made_once_with_the_password_only_on_stdin(ctl):
    assert module.ensure_account("openstack", "openstack", node=N1)["changed"] == [
        "vhost openstack", "user openstack", "permissions of openstack on openstack"]
    assert ctl.vhosts["openstack"] == "quorum" and ctl.users["openstack"] == PASSWORD
    for argv, node, stdin in ctl.calls:
        assert PASSWORD not in " ".join(argv) and node == N1
    assert ctl.verbs()[0] == "eval" and ctl.verbs().count("eval") == 1  # one query, one Erlang VM
    assert [stdin for argv, _, stdin in ctl.calls if argv[0] == "add_user"] == [PASSWORD + "\n"]
    assert module.ensure_account("openstack", "openstack", node=N1)["changed"] == []


def test_test_mode_says_what_it_would_do_and_does_nothing(ctl):
    assert module.ensure_account("openstack", "openstack", test=True)["changed"] == [
        "vhost openstack", "user openstack", "permissions of openstack on openstack"]
    assert ctl.verbs() == ["eval"]


def test_a_changed_password_is_set_again(ctl):
    module.ensure_account("openstack", "openstack")
    ctl.users["openstack"] = "old"
    assert module.ensure_account("openstack", "openstack")["changed"] == ["password of openstack"]
    assert ctl.users["openstack"] == PASSWORD


def test_a_classic_vhost_is_refused_and_nothing_runs(ctl):
    ctl.vhosts["openstack"] = "classic"
    with pytest.raises(module.CommandExecutionError, match="cannot change it"):
        module.ensure_account("openstack", "openstack")
    assert ctl.verbs() == ["eval"]


def test_names_that_are_not_plain_are_refused(ctl):
    with pytest.raises(module.CommandExecutionError):
        module.ensure_account("open stack", "openstack")


def test_a_fresh_node_joins_with_stop_join_start(ctl):
    assert module.join(N1, N2) == {"changed": True, "action": "join",
                                   "reason": f"{N2} is stand-alone and fresh: it joins {N1}"}
    assert [v for v in ctl.verbs() if v not in ("cluster_status", "list_vhosts", "list_users", "list_queues")] == [
        "stop_app", "join_cluster", "start_app"]
    assert ["join_cluster", N1] in [argv for argv, _, _ in ctl.calls]
    ctl.calls.clear()
    assert module.join(N1, N2)["changed"] is False
    assert ctl.verbs() == ["cluster_status"]


def test_test_mode_join_changes_nothing(ctl):
    assert module.join(N1, N2, test=True)["changed"] is True
    assert "join_cluster" not in ctl.verbs() and "stop_app" not in ctl.verbs()


def test_a_node_with_a_queue_is_refused_and_left_alone(ctl):
    ctl.queues["/"] = ["work"]
    with pytest.raises(module.CommandExecutionError, match=f"{N2} is stand-alone but holds 1 queue in vhost /"):
        module.join(N1, N2)
    assert not {"stop_app", "reset", "join_cluster"} & set(ctl.verbs())


def test_the_seed_asks_nothing(ctl):
    assert module.join(N1, N1)["action"] == "none" and ctl.calls == []


def test_a_node_that_does_not_answer_is_refused(monkeypatch):
    monkeypatch.setattr(module, "_ctl", lambda args, node=None, stdin=None, timeout=None: (69, "", "nodedown"))
    assert module.status(N2) is None
    with pytest.raises(module.CommandExecutionError, match="does not answer"):
        module.join(N1, N2)


def test_rabbitmqctl_runs_as_an_argument_list(monkeypatch):
    seen = {}

    def run(argv, **kwargs):
        seen.update(argv=argv, **kwargs)
        return subprocess.CompletedProcess(argv, 0, "out", "")

    monkeypatch.setattr(module.subprocess, "run", run)
    assert module._ctl(["add_user", "openstack"], N1, stdin="pw\n") == (0, "out", "")
    assert seen["argv"] == ["/usr/sbin/rabbitmqctl", "-n", N1, "add_user", "openstack"] and seen["input"] == "pw\n"
    assert "shell" not in seen


# --------------------------------------------------------------------------- the states


@pytest.fixture
def salt(monkeypatch):
    box = {"joined": False, "account": ["vhost openstack"], "refuse": None, "calls": []}

    def join(seed, node, test=False):
        box["calls"].append(("join", test))
        if box["refuse"]:
            raise state.CommandExecutionError(box["refuse"])
        changed = not box["joined"]
        if not test:
            box["joined"] = True
        return {"changed": changed, "action": "join" if changed else "none", "reason": "r"}

    def ensure_account(vhost, user, node=None, test=False):
        box["calls"].append(("account", test))
        changed = list(box["account"])
        if not test:
            box["account"] = []
        return {"changed": changed}

    monkeypatch.setattr(state, "__salt__", {"brine_rabbitmq.join": join, "brine_rabbitmq.ensure_account": ensure_account},
                        raising=False)
    monkeypatch.setattr(state, "__opts__", {"test": False}, raising=False)
    return box


@pytest.mark.parametrize("fun, args", [("joined", (N1, N2)), ("account_present", ("openstack", "openstack"))])
def test_the_states_have_the_same_changes_with_and_without_test(salt, monkeypatch, fun, args):
    monkeypatch.setitem(state.__opts__, "test", True)
    would = getattr(state, fun)(*args)
    assert would["result"] is None and would["changes"]
    monkeypatch.setitem(state.__opts__, "test", False)
    done = getattr(state, fun)(*args)
    assert done["result"] is True and done["changes"] == would["changes"]
    again = getattr(state, fun)(*args)
    assert again["result"] is True and again["changes"] == {}


def test_a_refused_join_fails_the_state_naming_the_node(salt):
    salt["refuse"] = f"{N2} is stand-alone but holds 1 queue in vhost /: joining would wipe it; nothing done"
    ret = state.joined(N1, N2)
    assert ret["result"] is False and ret["changes"] == {} and N2 in ret["comment"]
    assert salt["calls"] == [("join", True)]


def test_no_password_in_a_state_return(salt):
    assert PASSWORD not in json.dumps(state.account_present("openstack", "openstack"))


# --------------------------------------------------------------------------- the partition check script


def run_script(tmp_path, status, salt_rc=0, erl_call_answer=None, erl_call_rc=0):
    """The script with rabbitmqctl answering ``status`` (cluster_status JSON) and, when
    ``erl_call_answer`` is given, erl_call printing it (else no erl_call at all). ``(exit code,
    the salt-call arguments sent)``; each erl_call run's argv and HOME in ``erl_call.log``."""
    ctl = tmp_path / "rabbitmqctl"
    ctl.write_text(f"#!/bin/sh\necho ctl >> {tmp_path}/ctl.log\ncat <<'EOF'\n{json.dumps(status)}\nEOF\n")
    ctl.chmod(0o755)
    erl_call = tmp_path / "erl_call"
    if erl_call_answer is not None:
        erl_call.write_text(f"#!/bin/sh\necho \"$HOME $*\" >> {tmp_path}/erl_call.log\n"
                            f"cat <<'EOF'\n{erl_call_answer}\nEOF\nexit {erl_call_rc}\n")
        erl_call.chmod(0o755)
    salt_call = tmp_path / "salt-call"
    salt_call.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {tmp_path}/sent\nexit {salt_rc}\n')
    salt_call.chmod(0o755)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--node", N1, "--state", str(tmp_path / "state.json"),
                           "--salt-call", str(salt_call), "--rabbitmqctl", str(ctl), "--erl-call", str(erl_call),
                           "--cookie-home", "/var/lib/rabbitmq"], capture_output=True, text=True)
    sent = (tmp_path / "sent").read_text().splitlines() if (tmp_path / "sent").exists() else []
    return proc.returncode, sent


HEALTHY_TERM = ("[{nodes, [{disc, [rabbit@ubuntu1, rabbit@ubuntu2]}]}, {running_nodes, [rabbit@ubuntu1, rabbit@ubuntu2]}, "
                "{cluster_name, #Bin<114,97,98>}, {partitions, []}]")
SPLIT_TERM = ("[{nodes, [{disc, [rabbit@ubuntu1, rabbit@ubuntu2]}]}, {running_nodes, [rabbit@ubuntu1]}, "
              "{cluster_name, #Bin<114,97,98>}, {partitions, [{rabbit@ubuntu1, [rabbit@ubuntu2]}]}]")


def test_the_script_asks_erl_call_with_the_rabbitmq_users_cookie_and_not_rabbitmqctl(tmp_path):
    healthy = {"running_nodes": [N1, N2], "partitions": {}}
    assert run_script(tmp_path, healthy, erl_call_answer=HEALTHY_TERM) == (0, [])
    code, sent = run_script(tmp_path, healthy, erl_call_answer=SPLIT_TERM)
    assert code == 0 and json.loads(sent[3].removeprefix("data=")) == {"partitions": [N2], "running": [N1]}
    assert (tmp_path / "erl_call.log").read_text().splitlines() == [
        f"/var/lib/rabbitmq -timeout 20 -n {N1} -a rabbit_mnesia status []"] * 2
    assert not (tmp_path / "ctl.log").exists()


def test_a_paused_node_reports_nothing_and_a_failing_erl_call_is_checked_by_rabbitmqctl(tmp_path):
    split = {"running_nodes": [N1], "partitions": {N1: [N2]}}
    # Paused as the minority: the node answers, RabbitMQ is not running there.
    assert run_script(tmp_path, split, erl_call_answer="[{nodes, [{disc, [rabbit@ubuntu1]}]}]") == (0, [])
    assert not (tmp_path / "ctl.log").exists()
    # erl_call cannot reach the node (its cookie, or the node is down): rabbitmqctl decides.
    code, sent = run_script(tmp_path, split, erl_call_answer="erl_call: failed to connect", erl_call_rc=1)
    assert code == 0 and json.loads(sent[3].removeprefix("data=")) == {"partitions": [N2], "running": [N1]}
    assert (tmp_path / "ctl.log").read_text() == "ctl\n"


@pytest.mark.parametrize("answer", ["{badrpc, {'EXIT', {undef, [{rabbit_mnesia, status, [], []}]}}}",
                                    "#{running_nodes => []}", "[{running_nodes, [a]}, {partitions, [x]}]", "[{a, b}"])
def test_an_answer_erl_call_gives_in_another_shape_falls_back_to_rabbitmqctl(tmp_path, answer):
    split = {"running_nodes": [N1], "partitions": {N1: [N2]}}
    code, sent = run_script(tmp_path, split, erl_call_answer=answer)
    assert code == 0 and json.loads(sent[3].removeprefix("data=")) == {"partitions": [N2], "running": [N1]}
    assert (tmp_path / "ctl.log").read_text() == "ctl\n"


def test_the_term_reader_reads_what_erl_call_prints():
    spec = importlib.util.spec_from_file_location("brine_rabbitmq_partitions", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.parse_term("[{a, 'rabbit@ub-1', \"s\\\"x\", #Bin<104,105>, -3}, []]") == [
        ("a", "rabbit@ub-1", 's"x', b"hi", -3), []]
    assert script.status_from_term(script.parse_term(SPLIT_TERM)) == {"running_nodes": [N1], "partitions": {N1: [N2]}}
    for bad in ("<0.1.0>", "[a", "a]", "{a, b]", "a b"):
        with pytest.raises(script.Unreadable):
            script.parse_term(bad)


def test_the_script_sends_each_change_once(tmp_path):
    healthy = {"disk_nodes": [N1, N2], "running_nodes": [N1, N2], "partitions": {}}
    assert run_script(tmp_path, healthy) == (0, [])
    split = dict(healthy, running_nodes=[N1], partitions={N1: [N2]})
    code, sent = run_script(tmp_path, split)
    assert code == 0 and sent[:3] == ["--log-level=quiet", "brine_sign.send", "brine/rabbitmq/partition"]
    assert json.loads(sent[3].removeprefix("data=")) == {"partitions": [N2], "running": [N1]}
    assert run_script(tmp_path, split) == (0, sent)
    assert len(run_script(tmp_path, healthy)[1]) == 8  # the heal: a second event


def test_the_script_tries_again_when_the_master_was_not_told(tmp_path):
    split = {"disk_nodes": [N1, N2], "running_nodes": [N1], "partitions": {N1: [N2]}}
    assert run_script(tmp_path, split, salt_rc=1)[0] == 1
    assert not (tmp_path / "state.json").exists()
    assert len(run_script(tmp_path, split)[1]) == 8


@pytest.mark.parametrize("status", [
    {"disk_nodes": [N1], "running_nodes": [N1], "partitions": {}},
    {"disk_nodes": [N1, N2], "running_nodes": [N2, N1], "partitions": {N1: [N2], N2: [N1, N2]}},
])
def test_the_script_says_what_brinelib_says(status):
    spec = importlib.util.spec_from_file_location("brine_rabbitmq_partitions", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.payload(status) == rabbitmq.partition_payload(rabbitmq.parse_cluster_status(json.dumps(status)))


# --------------------------------------------------------------------------- the inventory


def test_the_example_inventory_is_valid_and_normalised_with_the_settings():
    inventory = example_inventory()
    assert brine_inventory.check(inventory) == []
    normal = brine_inventory.normalise(inventory)
    assert normal["rabbitmq"] == rabbitmq.DEFAULTS and normal["memcached"]["port"] == 11211


def test_inventory_errors_name_the_setting():
    inventory = example_inventory()
    inventory["rabbitmq"] = {"vhost": "bad vhost"}
    inventory["memcached"] = {"memory_mb": 1}
    del inventory["secrets"]["rabbitmq_erlang_cookie"]
    paths = sorted(e.path for e in brine_inventory.check(inventory))
    assert paths == ["brine:memcached:memory_mb", "brine:rabbitmq:vhost", "brine:secrets:rabbitmq_erlang_cookie"]
