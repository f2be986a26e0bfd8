"""lab/converge.py without a lab: the highstate goes to the bootstrap hosts first, then to the
rest in one job, and every host's results come back together."""

from types import SimpleNamespace

from lab.converge import apply_highstate


class FakeLab:
    def __init__(self, roles):
        hosts = {name: {"roles": r} for name, r in roles.items()}
        self.layout = SimpleNamespace(hosts=hosts, inventory={"hosts": hosts})
        self.jobs = []

    def salt_job(self, targets, fun, *args):
        self.jobs.append((tuple(targets), fun, *args))
        return {name: {"state": name} for name in targets}


def test_the_bootstrap_hosts_converge_first_then_the_others_together():
    lab = FakeLab({"ubuntu1": ["controller"], "bootstrap": ["bootstrap", "registry"], "ubuntu2": ["compute"]})
    results = apply_highstate(lab)
    assert lab.jobs == [(("bootstrap",), "state.apply"), (("ubuntu1", "ubuntu2"), "state.apply")]
    assert results == {name: {"state": name} for name in ("bootstrap", "ubuntu1", "ubuntu2")}


def test_without_a_bootstrap_host_one_job_does_everything():
    lab = FakeLab({"a": ["compute"], "b": ["controller"]})
    apply_highstate(lab)
    assert lab.jobs == [(("a", "b"), "state.apply")]
