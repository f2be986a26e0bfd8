"""
Runs in a lab guest: commits one row per transaction through ADDRESS:3306 (the internal VIP,
HAProxy's single writer) at RATE transactions/s for DURATION seconds, reconnecting whenever a
statement fails, and prints one JSON line: the ids whose COMMIT was acknowledged, and every
stall (time from the first failed attempt to the next acknowledged commit). Credentials come
from the file CREDENTIALS (user and password, one per line), never the command line.

usage: python3 galera_writer.py ADDRESS CREDENTIALS DURATION [RATE] [FIRST_ID]
"""

import json
import sys
import time

import pymysql


def connect(address, user, password):
    return pymysql.connect(host=address, user=user, password=password, database="brine_bench",
                           connect_timeout=1, read_timeout=2, write_timeout=2, autocommit=False)


def main():
    address, creds, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 50.0
    next_id = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    user, password = open(creds, encoding="utf-8").read().split("\n")[:2]
    acked, stalls, errors = [], [], {}
    conn, stall_since = None, None
    end = time.time() + duration
    while time.time() < end:
        started = time.time()
        try:
            if conn is None:
                conn = connect(address, user, password)
            with conn.cursor() as cur:
                cur.execute("INSERT INTO acked (id, at) VALUES (%s, %s)", (next_id, started))
            conn.commit()
            acked.append(next_id)
            if stall_since is not None:
                stalls.append([round(stall_since, 4), round(time.time() - stall_since, 4)])
                stall_since = None
        except Exception as exc:  # pylint: disable=broad-except
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            if stall_since is None:
                stall_since = started
            try:
                if conn is not None:
                    conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
            conn = None
        next_id += 1  # an id that failed is never reused: it may or may not have committed
        time.sleep(max(0.0, 1.0 / rate - (time.time() - started)))
    if stall_since is not None:
        stalls.append([round(stall_since, 4), None])
    print("JSON:" + json.dumps({"acked": acked, "stalls": stalls, "errors": errors, "next_id": next_id}), flush=True)


if __name__ == "__main__":
    main()
