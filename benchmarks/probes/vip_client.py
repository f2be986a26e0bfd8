"""
Runs in a lab guest (python3, stdlib only): opens a TCP connection to ADDRESS:PORT every
INTERVAL seconds for DURATION seconds and prints one JSON line: every attempt's wall-clock time
and whether it connected. The host computes the longest gap between two successful connects.

usage: python3 vip_client.py ADDRESS PORT DURATION [INTERVAL]
"""

import json
import socket
import sys
import time


def main():
    address, port, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.02
    attempts = []
    end = time.time() + duration
    while time.time() < end:
        started = time.time()
        try:
            with socket.create_connection((address, port), timeout=0.5):
                ok = True
        except OSError:
            ok = False
        attempts.append([round(started, 4), ok])
        time.sleep(max(0.0, interval - (time.time() - started)))
    print("JSON:" + json.dumps({"attempts": attempts}), flush=True)


if __name__ == "__main__":
    main()
