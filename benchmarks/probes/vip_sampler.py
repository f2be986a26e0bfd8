"""
Runs in a lab guest (python3, stdlib only): every INTERVAL seconds for DURATION seconds reads
which of the ADDRESSES are local to this guest (``/proc/net/fib_trie``'s "/32 host LOCAL"
entries: no process started per sample) and prints one JSON line with every change, each
``[wall-clock time, [addresses held], time of the sample before]``, the first sample included.

usage: python3 vip_sampler.py DURATION INTERVAL ADDRESS...
"""

import json
import sys
import time


def local_addresses():
    held, last = set(), None
    with open("/proc/net/fib_trie", encoding="ascii") as fh:
        for line in fh:
            text = line.strip()
            if text.startswith("|--"):
                last = text[3:].strip()
            elif text == "/32 host LOCAL" and last:
                held.add(last)
    return held


def main():
    duration, interval, wanted = float(sys.argv[1]), float(sys.argv[2]), set(sys.argv[3:])
    changes, previous, previous_at = [], None, None
    end = time.time() + duration
    while time.time() < end:
        now = time.time()
        held = sorted(local_addresses() & wanted)
        if held != previous:
            changes.append([round(now, 4), held, previous_at])
            previous = held
        previous_at = round(now, 4)
        time.sleep(interval)
    print("JSON:" + json.dumps({"changes": changes}), flush=True)


if __name__ == "__main__":
    main()
