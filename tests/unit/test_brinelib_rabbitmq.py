"""brinelib.rabbitmq and brinelib.memcached, the pure cores: inventory rules, the rendered files,
what rabbitmqctl's JSON says, the join step of formation, the vhost step and the partition
payload; and the brine/rabbitmq/partition decision."""

import json

import pytest
from brinelib import decisions, memcached, rabbitmq
from brinelib.events import Rejected
from events_keys import signed

T = 1_700_000_000.0
N1, N2, N3 = "rabbit@ubuntu1", "rabbit@ubuntu2", "rabbit@ubuntu3"


def controllers_inventory(**top):
    hosts = {name: {"roles": ["controller"]} for name in ("ubuntu1", "ubuntu2", "ubuntu3")}
    secrets = {name: f"sdb://brine_secrets/{name}" for name in rabbitmq.SECRETS}
    return {"hosts": hosts, "secrets": secrets, **top}


# --------------------------------------------------------------------------- inventory rules


def test_the_defaults_and_the_example_settings_are_valid():
    assert rabbitmq.check(controllers_inventory()) == []
    assert rabbitmq.check(controllers_inventory(rabbitmq=dict(rabbitmq.DEFAULTS))) == []
    assert rabbitmq.settings({}) == {"vhost": "openstack", "user": "openstack", "port": 5672, "dist_port": 25672}
    assert rabbitmq.settings({"rabbitmq": {"vhost": "nova"}})["vhost"] == "nova"


@pytest.mark.parametrize("spec, path, words", [
    ({"vhost": "open stack"}, "rabbitmq:vhost", "letters"),
    ({"vhost": ""}, "rabbitmq:vhost", "letters"),
    ({"user": "a" * 65}, "rabbitmq:user", "letters"),
    ({"user": 7}, "rabbitmq:user", "letters"),
    ({"user": "x;reboot"}, "rabbitmq:user", "letters"),
    ({"port": 80}, "rabbitmq:port", "1024-65535"),
    ({"port": "5672"}, "rabbitmq:port", "1024-65535"),
    ({"port": True}, "rabbitmq:port", "1024-65535"),
    ({"dist_port": 70000}, "rabbitmq:dist_port", "1024-65535"),
    ({"port": 25672}, "rabbitmq:dist_port", "must differ"),
    ({"queue_type": "classic"}, "rabbitmq:queue_type", "unknown key"),
])
def test_bad_settings_are_named(spec, path, words):
    problems = rabbitmq.check(controllers_inventory(rabbitmq=spec))
    assert any(p == path and words in m for p, m in problems), problems


def test_settings_that_are_not_a_mapping_are_refused():
    assert rabbitmq.check(controllers_inventory(rabbitmq=["vhost"])) == [("rabbitmq", "['vhost'] is not a mapping")]


@pytest.mark.parametrize("missing", rabbitmq.SECRETS)
def test_controllers_need_both_secrets(missing):
    inventory = controllers_inventory()
    del inventory["secrets"][missing]
    assert [p for p, _ in rabbitmq.check(inventory)] == [f"secrets:{missing}"]


@pytest.mark.parametrize("hosts", [{}, {"compute1": {"roles": ["compute"]}}, ["not", "a", "mapping"], None,
                                   {"odd": "not a host"}, {"odd": {"roles": "controller"}}])
def test_without_controllers_no_secret_is_needed(hosts):
    assert rabbitmq.check({"hosts": hosts}) == []


def test_memcached_settings():
    assert memcached.check({}) == [] and memcached.check(dict(memcached.DEFAULTS)) == []
    assert memcached.settings({"memcached": {"memory_mb": 256}}) == {"port": 11211, "memory_mb": 256,
                                                                     "max_connections": 1024}
    assert memcached.check([]) == [("memcached", "[] is not a mapping")]
    for spec, path in [({"memory_mb": 8}, "memcached:memory_mb"), ({"max_connections": "many"}, "memcached:max_connections"),
                       ({"port": 0}, "memcached:port"), ({"port": False}, "memcached:port"),
                       ({"udp": 11211}, "memcached:udp")]:
        assert [p for p, _ in memcached.check(spec)] == [path], spec


def test_memcached_config_listens_on_one_address_without_udp():
    lines = memcached.render_config("10.10.0.11", port=11212, memory_mb=128, max_connections=2048).splitlines()
    assert lines[0].startswith("# Managed by Salt")
    assert {"-l 10.10.0.11", "-p 11212", "-U 0", "-m 128", "-c 2048", "-u memcache"} <= set(lines)
    assert not any(line.startswith("-d") for line in lines)


# --------------------------------------------------------------------------- names and files


@pytest.mark.parametrize("hostname, node", [("ubuntu1", N1), ("ubuntu1.lab.home.arpa", N1), ("ctl-2", "rabbit@ctl-2")])
def test_node_names_use_the_short_host_name(hostname, node):
    assert rabbitmq.node_name(hostname) == node


@pytest.mark.parametrize("hostname", ["", "bad host", "a@b"])
def test_a_host_name_that_makes_no_node_name_is_refused(hostname):
    with pytest.raises(ValueError):
        rabbitmq.node_name(hostname)


def test_rabbitmq_conf_binds_amqp_to_the_address_and_pauses_the_minority():
    text = rabbitmq.render_config("10.10.0.11")
    assert text.splitlines() == [
        "# Managed by Salt (Brine: salt/rabbitmq). RabbitMQ on this controller.",
        "listeners.tcp.default = 10.10.0.11:5672",
        "cluster_partition_handling = pause_minority",
        "loopback_users.guest = true",
    ]
    assert "listeners.tcp.default = [fd00::11]:5673" in rabbitmq.render_config("fd00::11", port=5673)


def test_rabbitmq_env_names_the_node_and_binds_the_distribution():
    lines = rabbitmq.render_env(N1, "10.10.0.11", port=5672, dist_port=25672).splitlines()
    assert lines[1:] == [
        "NODENAME=rabbit@ubuntu1",
        "NODE_IP_ADDRESS=10.10.0.11",
        "NODE_PORT=5672",
        "DIST_PORT=25672",
        'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {10,10,0,11} +sbwt none +sbwtdcpu none +sbwtdio none"',
        'CTL_ERL_ARGS="-kernel inet_dist_use_interface {10,10,0,11}"',
    ]
    assert "{64768,0,0,0,0,0,0,17}" in rabbitmq.render_env(N1, "fd00::11")


@pytest.mark.parametrize("node, address", [("rabbit", "10.0.0.1"), ("rabbit@a b", "10.0.0.1"), (N1, "10.0.0"),
                                           (N1, "10.0.0.256"), (N1, "10.0.0.1; reboot"), (N1, "fd00::zz")])
def test_rabbitmq_env_refuses_what_would_not_be_a_node_or_an_address(node, address):
    with pytest.raises(ValueError):
        rabbitmq.render_env(node, address)


# --------------------------------------------------------------------------- rabbitmqctl's JSON

# rabbitmqctl 3.10.8 cluster_status --formatter json, trimmed (feature flags, listeners).
STATUS = {"alarms": [], "cluster_name": "rabbit@ubuntu1", "disk_nodes": [N1, N2, N3], "feature_flags": [],
          "listeners": {}, "maintenance_status": {}, "partitions": {}, "ram_nodes": [], "running_nodes": [N3, N1, N2],
          "versions": {}}


def status_text(**changes):
    return json.dumps({**STATUS, **changes})


def test_cluster_status_of_a_healthy_cluster():
    assert rabbitmq.parse_cluster_status(status_text()) == {"members": [N1, N2, N3], "running": [N1, N2, N3],
                                                            "partitions": []}


def test_cluster_status_of_a_stand_alone_node_and_of_ram_nodes():
    assert rabbitmq.parse_cluster_status(status_text(disk_nodes=[N2], running_nodes=[N2]))["members"] == [N2]
    assert rabbitmq.parse_cluster_status(status_text(disk_nodes=[N1], ram_nodes=[N2]))["members"] == [N1, N2]


def test_partitions_are_every_node_some_node_cannot_see():
    parsed = rabbitmq.parse_cluster_status(status_text(partitions={N1: [N3], N2: [N3, N1]}, running_nodes=[N1, N2]))
    assert parsed["partitions"] == [N1, N3] and parsed["running"] == [N1, N2]


@pytest.mark.parametrize("text", [
    "", "Error: unable to perform an operation on node", "[]", json.dumps(STATUS)[:-1],
    status_text(disk_nodes=[], ram_nodes=[]),
    status_text(disk_nodes="rabbit@ubuntu1"),
    status_text(disk_nodes=["ubuntu1"]),
    status_text(running_nodes=[7]),
    status_text(partitions=[N1]),
    status_text(partitions={"not a node": [N2]}),
    status_text(partitions={N1: N2}),
])
def test_cluster_status_that_does_not_check_out_is_refused(text):
    with pytest.raises(ValueError):
        rabbitmq.parse_cluster_status(text)


def test_what_a_fresh_node_holds_is_nothing():
    assert rabbitmq.beyond_defaults(["/"], ["guest"], {"/": 0}) == []
    assert rabbitmq.beyond_defaults(["/", "openstack"], ["guest", "openstack"], {"/": 1, "openstack": 3}) == [
        "vhost openstack", "user openstack", "1 queue in vhost /", "3 queues in vhost openstack"]


# --------------------------------------------------------------------------- the join step


def alone(node):
    return {"members": [node], "running": [node], "partitions": []}


CLUSTER = {"members": [N1, N2, N3], "running": [N1, N2, N3], "partitions": []}


def test_the_seed_does_nothing():
    assert rabbitmq.join_step(N1, N1, None, [])["action"] == "none"


def test_a_fresh_stand_alone_node_joins_the_seed():
    step = rabbitmq.join_step(N2, N1, alone(N2), [])
    assert step == {"action": "join", "reason": f"{N2} is stand-alone and fresh: it joins {N1}"}


@pytest.mark.parametrize("status", [CLUSTER, {"members": [N1, N2], "running": [N1], "partitions": []},
                                    {"members": [N1, N2, N3], "running": [N2], "partitions": [N1]}])
def test_a_member_is_never_reset_whatever_it_holds(status):
    step = rabbitmq.join_step(N2, N1, status, ["5 queues in vhost openstack"])
    assert step["action"] == "none" and "never reset" in step["reason"]


def test_a_stand_alone_node_with_data_is_refused_by_name():
    step = rabbitmq.join_step(N3, N1, alone(N3), ["1 queue in vhost /", "user admin"])
    assert step["action"] == "refuse"
    assert step["reason"] == (f"{N3} is stand-alone but holds 1 queue in vhost /, user admin: joining would wipe it; "
                              "nothing done")


def test_a_node_of_another_cluster_is_refused_by_name():
    step = rabbitmq.join_step(N3, N1, {"members": [N3, "rabbit@old"], "running": [N3], "partitions": []}, [])
    assert step["action"] == "refuse" and N3 in step["reason"] and "rabbit@old" in step["reason"]


def test_a_node_that_does_not_answer_is_refused_by_name():
    step = rabbitmq.join_step(N2, N1, None, [])
    assert step["action"] == "refuse" and step["reason"].startswith(f"{N2} does not answer")


def test_formation_in_inventory_order_joins_each_fresh_node_once():
    """The orchestration's sequence, each node deciding from its own status: ubuntu2 then ubuntu3
    join; run again, nobody does anything."""
    statuses = {N1: alone(N1), N2: alone(N2), N3: alone(N3)}
    done = []
    for _ in range(2):
        for node in (N1, N2, N3):
            step = rabbitmq.join_step(node, N1, statuses[node], [])
            if step["action"] == "join":
                done.append(node)
                members = sorted(statuses[N1]["members"] + [node])
                for member in members:
                    statuses[member] = {"members": members, "running": members, "partitions": []}
    assert done == [N2, N3]


# --------------------------------------------------------------------------- the vhost


def test_the_vhost_is_made_quorum_or_left_alone():
    assert rabbitmq.vhost_step("openstack", {"/": "undefined"}) == "create"
    assert rabbitmq.vhost_step("openstack", {"/": "undefined", "openstack": "quorum"}) == "none"


@pytest.mark.parametrize("queue_type", ["classic", "undefined", None])
def test_a_vhost_with_another_default_queue_type_is_refused(queue_type):
    with pytest.raises(ValueError, match="cannot change it"):
        rabbitmq.vhost_step("openstack", {"openstack": queue_type})


def test_the_user_gets_everything_on_its_vhost():
    assert rabbitmq.permissions_wanted("openstack") == {"user": "openstack", "configure": ".*", "write": ".*",
                                                        "read": ".*"}


# --------------------------------------------------------------------------- the partition event


def event(payload, minion="ubuntu3"):
    return {"id": minion, "cmd": "_minion_event", "tag": "x", "data": payload, "_stamp": "2026-11-22T00:00:00"}


def partition(**changes):
    return {"partitions": [N1], "running": [N3, N2], **changes}


def test_the_payload_of_a_status():
    parsed = rabbitmq.parse_cluster_status(status_text(partitions={N2: [N1]}, running_nodes=[N2, N3]))
    assert rabbitmq.partition_payload(parsed) == {"partitions": [N1], "running": [N2, N3]}


def test_a_partition_is_recorded_with_no_action():
    minion, record, actions = decisions.decide_rabbitmq_partition("brine/rabbitmq/partition", event(partition()))
    assert (minion, record, actions) == ("ubuntu3", {"partitions": [N1], "running": [N2, N3]}, [])


def test_a_heal_is_recorded_too():
    _, record, _ = decisions.decide_rabbitmq_partition("brine/rabbitmq/partition", event(partition(partitions=[])))
    assert record["partitions"] == []


@pytest.mark.parametrize("why, payload", [
    ("no partitions", {"running": [N1]}),
    ("no running", {"partitions": [N1]}),
    ("partitions as text", partition(partitions=N1)),
    ("not a node name", partition(partitions=["ubuntu1"])),
    ("shell in a node name", partition(partitions=["rabbit@u1;reboot"])),
    ("number", partition(running=[1])),
    ("too many", partition(partitions=[f"rabbit@n{i}" for i in range(rabbitmq.PARTITIONS_MAX + 1)])),
    ("huge name", partition(partitions=["rabbit@" + "a" * 100_000])),
    ("smuggled key", partition(mods="rabbitmq")),
    ("names another minion", partition(minion="ubuntu2")),
    ("not a mapping", ["partitions"]),
])
def test_hostile_partition_events_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_rabbitmq_partition("brine/rabbitmq/partition", event(payload))


def test_partition_events_under_another_tag_are_rejected():
    with pytest.raises(Rejected, match="unexpected tag"):
        decisions.decide_rabbitmq_partition("brine/rabbitmq/other", event(partition()))


def test_a_signed_partition_is_recorded_and_an_unsigned_one_is_inert(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    tag = "brine/rabbitmq/partition"
    high = decisions.reaction("rabbitmq_partition", tag, signed(tmp_path, tag, event(partition()), T), opts, received=T)
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert list(high) == ["brine-record"] and entry["event"]["partitions"] == [N1] and entry["actions"] == []
    high = decisions.reaction("rabbitmq_partition", tag, event(partition()), opts, received=T)
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert list(high) == ["brine-record"] and entry["rejected"]


def test_the_reactor_for_partitions_is_wired():
    from brine_testlib import REPO

    master = (REPO / "etc" / "master").read_text()
    assert "'brine/rabbitmq/partition':\n    - /srv/brine/reactor/rabbitmq.sls" in master
    assert 'reaction("rabbitmq_partition", tag, data, __opts__)' in (REPO / "reactor" / "rabbitmq.sls").read_text()


# --------------------------------------------------------------------------- the account query


def test_the_account_query_carries_names_and_password_as_bytes_nothing_to_escape():
    tricky = 'p"a\\ss\'w,ö]).'
    expr = rabbitmq.account_query("openstack", "openstack", tricky)
    assert tricky not in expr and expr.endswith(".\n")
    encoded = ",".join(str(b) for b in tricky.encode())
    assert f"P = list_to_binary([{encoded}])" in expr


def facts_json(vhosts=None, user=True, login=True, permissions=None):
    value = {"vhosts": [{"name": n, "default_queue_type": t} for n, t in (vhosts or {"/": "undefined"}).items()],
             "user": user, "login": login, "permissions": permissions or []}
    return json.dumps({"node": "rabbit@ubuntu1", "result": "ok", "value": value})


ALL = {"configure": ".*", "write": ".*", "read": ".*"}


@pytest.mark.parametrize("facts, steps", [
    (dict(user=False, login=False), ["vhost", "user", "permissions"]),
    (dict(vhosts={"openstack": "quorum"}, user=False, login=False), ["user", "permissions"]),
    (dict(vhosts={"openstack": "quorum"}, login=False, permissions=[dict(ALL, vhost="openstack")]), ["password"]),
    (dict(vhosts={"openstack": "quorum"}, permissions=[dict(ALL, vhost="other")]), ["permissions"]),
    (dict(vhosts={"openstack": "quorum"}, permissions=[dict(ALL, vhost="openstack", read="^$")]), ["permissions"]),
    (dict(vhosts={"openstack": "quorum"}, permissions=[dict(ALL, vhost="openstack")]), []),
    (dict(permissions=[dict(ALL, vhost="openstack")]), ["vhost", "permissions"]),  # a new vhost has no grants yet
])
def test_account_steps_do_only_what_is_missing(facts, steps):
    parsed = rabbitmq.parse_account_facts(facts_json(**facts), "openstack")
    assert rabbitmq.account_steps(parsed, "openstack", "openstack") == steps


def test_account_steps_refuse_a_vhost_of_another_queue_type():
    parsed = rabbitmq.parse_account_facts(facts_json(vhosts={"openstack": "classic"}), "openstack")
    with pytest.raises(ValueError, match="cannot change it"):
        rabbitmq.account_steps(parsed, "openstack", "openstack")


@pytest.mark.parametrize("text", [
    "not json", json.dumps({"result": "ok"}), json.dumps({"value": {"vhosts": []}}),
    json.dumps({"value": {"vhosts": [{"nom": "x"}], "user": True, "login": True, "permissions": []}}),
    json.dumps({"value": {"vhosts": [], "user": True, "login": True, "permissions": ["x"]}}),
])
def test_anything_but_the_query_s_answer_is_refused(text):
    with pytest.raises(ValueError):
        rabbitmq.parse_account_facts(text, "openstack")
