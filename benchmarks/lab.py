"""
Benchmark of the virtual lab on this machine (prints figures; asserts nothing about time):
base image build (only when the cache has none for the current recipe), lab up until every
minion answers, `salt '*' test.ping`, `salt '*' saltutil.sync_all`, the first
`salt '*' state.apply`, the minion restarts it schedules, a no-op `salt '*' state.apply`,
`brine-lab exec ubuntu1 true`, the memory each guest uses on the host, and `brine-lab down`.

Run as root from the checkout: .venv/bin/python benchmarks/lab.py
It takes down this checkout's lab first if one is up, and leaves none running.

Targets: base image build <= 10 min; lab up <= 90 s; no-op state.apply <= 60 s; memory per
guest <= 1 GiB.

Measured on a 2-core "Intel(R) Xeon(R) Processor" with AMX, 24 GiB, host kernel 6.18, lab
kernel UML 7.2um1 (7.2.7), example lab of 4 guests, one run:

    base image build, first time (downloads included)            83 s
    lab up until every minion answers (image cached)             16.5 s
    salt '*' test.ping (median of 3, CLI start included)         0.96 s
    salt '*' saltutil.sync_all                                   78 s
    first salt '*' state.apply (121 states, 102 changed)         59 s
    the minion restarts it schedules, until all answer           34 s
    no-op salt '*' state.apply (121 states, 0 changed)           17.5 s
    brine-lab exec ubuntu1 true (signed request, from Python)    200 ms
    memory per guest on the host (PSS, after the applies)        376-539 MiB (mem=768M)
    brine-lab down                                               0.9 s; nothing left
"""

import os
import statistics
import time

import import_path  # noqa: F401  (first: this file is lab.py too, the lab package must win)

from lab import image, kernel
from lab.core import Lab, minion_restarts


def timed(func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    return time.monotonic() - started, result


def apply_counts(results):
    states = [s for host in results.values() if isinstance(host, dict) for s in host.values()]
    return len(states), sum(1 for s in states if s.get("changes")), sum(1 for s in states if s.get("result") is False)


def main():
    figures = []
    if not image.base_image().exists():
        seconds, path = timed(image.ensure_base_image)
        figures.append(("base image build (debootstrap + packages + Salt venv + ext4)", f"{seconds:.0f} s"))
    lab = Lab(log=lambda msg: None)
    lab.down()
    try:
        seconds, _ = timed(lab.up, timeout=600)
        figures.append((f"lab up, {len(lab.layout.hosts)} guests, until every minion answers", f"{seconds:.1f} s"))
        pings = [timed(lab.salt_json, "*", "test.ping")[0] for _ in range(3)]
        figures.append(("salt '*' test.ping (median of 3)", f"{statistics.median(pings):.2f} s"))
        seconds, _ = timed(lab.salt_json, "*", "saltutil.sync_all")
        figures.append(("salt '*' saltutil.sync_all", f"{seconds:.1f} s"))
        seconds, results = timed(lab.salt_json, "*", "state.apply")
        states, changed, failed = apply_counts(results)
        figures.append((f"first salt '*' state.apply ({states} states, {changed} changed, {failed} failed)", f"{seconds:.1f} s"))
        # The first apply configures the event watchers, and the minions it configured restart in
        # the background: a job sent meanwhile is lost (and the CLI waits out its timeout).
        seconds, restarted = timed(lab.wait_minion_restarts, minion_restarts(results))
        figures.append((f"minion restarts the first apply scheduled ({len(restarted)} hosts)", f"{seconds:.1f} s"))
        seconds, results = timed(lab.salt_json, "*", "state.apply")
        states, changed, failed = apply_counts(results)
        figures.append((f"no-op salt '*' state.apply ({states} states, {changed} changed, {failed} failed)", f"{seconds:.1f} s"))
        seconds, _ = timed(lab.exec, "ubuntu1", "true")
        figures.append(("brine-lab exec ubuntu1 true (control channel round trip)", f"{seconds * 1000:.0f} ms"))
        for name in lab.layout.hosts:
            figures.append((f"host memory (PSS) of guest {name}", f"{lab.guest_memory_mib(name):.0f} MiB"))
    finally:
        seconds, left = timed(lab.down)
        figures.append(("lab down", f"{seconds:.1f} s" + (f" LEFT BEHIND: {left}" if left else "")))
    width = max(len(k) for k, _ in figures)
    print(f"\nBrine lab benchmark ({os.cpu_count()} CPUs; {kernel.describe_host()})")
    for key, value in figures:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
