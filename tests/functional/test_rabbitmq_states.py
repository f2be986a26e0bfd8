"""
The rabbitmq and memcached states as a controller renders them: salt-call --local inside a
network namespace whose NIC carries a controller's inventory MAC (so
brine_inventory.this_machine() is True there) shows what the role would do; on this host (no
inventory MAC) the same states render nothing that changes the host. Nothing is applied.
"""

import json

import brine_testlib
from brine_testlib import requisites, state_args

SECRETS = {"brine_secrets": {"rabbitmq_password": "rmq-pw", "rabbitmq_erlang_cookie": "cookie-value"}}


def show_sls(salt_call, sls, minion_id, netns=None):
    return brine_testlib.show_sls(salt_call, sls, SECRETS, minion_id=minion_id, netns=netns)


def test_the_seed_renders_cookie_and_config_before_the_package_and_the_account(salt_call, controller_netns):
    out = show_sls(salt_call, "rabbitmq", "ubuntu1", controller_netns("ubuntu1"))
    cookie = state_args(out["rabbitmq-erlang-cookie"])
    assert (cookie["mode"], cookie["user"], cookie["group"], cookie["show_changes"]) == ("0400", "rabbitmq", "rabbitmq",
                                                                                         False)
    assert cookie["contents"] == "cookie-value" and cookie["name"] == "/var/lib/rabbitmq/.erlang.cookie"
    config = state_args(out["rabbitmq-config"])["contents"]
    assert "listeners.tcp.default = 10.10.0.11:5672" in config
    assert "cluster_partition_handling = pause_minority" in config
    env = state_args(out["rabbitmq-env"])["contents"]
    assert "NODENAME=rabbit@ubuntu1" in env and "inet_dist_use_interface {10,10,0,11}" in env
    epmd = state_args(out["rabbitmq-epmd-dropin"])["contents"].splitlines()
    assert {"ListenStream=", "ListenStream=127.0.0.1:4369", "ListenStream=10.10.0.11:4369", "FreeBind=true"} <= set(epmd)
    # the package (whose postinst starts the server) only after what its first start reads
    assert set(requisites(out["rabbitmq-packages"])) >= {("file", "rabbitmq-erlang-cookie"), ("file", "rabbitmq-config"),
                                                         ("file", "rabbitmq-env")}
    account = state_args(out["rabbitmq-openstack-account"])
    assert (account["name"], account["user"], account["node"]) == ("openstack", "openstack", "rabbit@ubuntu1")
    assert "rmq-pw" not in json.dumps(out)
    assert "--node rabbit@ubuntu1" in state_args(out["rabbitmq-partitions-service"])["contents"]
    # never a join in the highstate: formation is the orchestration's
    assert "rabbitmq-cluster-joined" not in out


def test_another_controller_joins_the_seed_only_through_rabbitmq_cluster(salt_call, controller_netns):
    netns = controller_netns("ubuntu2")
    out = show_sls(salt_call, "rabbitmq", "ubuntu2", netns)
    assert "rabbitmq-openstack-account" not in out and "rabbitmq-running" in out
    joined = state_args(show_sls(salt_call, "rabbitmq.cluster", "ubuntu2", netns)["rabbitmq-cluster-joined"])
    assert (joined["name"], joined["node"]) == ("rabbit@ubuntu1", "rabbit@ubuntu2")


def test_memcached_listens_on_the_management_address_only(salt_call, controller_netns):
    out = show_sls(salt_call, "memcached", "ubuntu1", controller_netns("ubuntu1"))
    config = state_args(out["memcached-config"])["contents"].splitlines()
    assert "-l 10.10.0.11" in config and "-U 0" in config and "-m 64" in config and "-c 1024" in config
    assert ("file", "memcached-config") in requisites(out["memcached-running"], "watch")


def test_this_host_renders_no_rabbitmq_or_memcached_change(salt_call):
    for sls in ("rabbitmq", "rabbitmq.cluster", "memcached"):
        out = show_sls(salt_call, sls, "ubuntu1")
        assert [sid for sid in out if sid.startswith(("rabbitmq-", "memcached-"))] == [], sls


def test_orchestration_joins_one_controller_at_a_time_in_inventory_order(salt_call):
    out = brine_testlib.show_sls(salt_call, "orch.rabbitmq", minion_id="bootstrap")
    configured = state_args(out["rabbitmq-configured"])
    assert configured["tgt"] == ["ubuntu1", "ubuntu2", "ubuntu3"] and configured["sls"] == ["rabbitmq"]
    assert state_args(out["rabbitmq-joined-ubuntu2"])["tgt"] == "ubuntu2"
    assert requisites(out["rabbitmq-joined-ubuntu2"]) == [("salt", "rabbitmq-configured")]
    assert requisites(out["rabbitmq-joined-ubuntu3"]) == [("salt", "rabbitmq-joined-ubuntu2")]
    assert "rabbitmq-joined-ubuntu1" not in out
