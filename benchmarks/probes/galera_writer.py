"""
Runs in a lab guest: WRITERS connections (threads) commit one row per transaction through
ADDRESS:3306 (the internal VIP, HAProxy's single writer), RATE transactions/s in all, for
DURATION seconds, each reconnecting whenever a statement fails, and prints one JSON line: the
ids whose COMMIT was acknowledged, the achieved rate, and every stall (time from the first
failed attempt after an acknowledged commit to the next acknowledged commit of any writer).
Credentials come from the file CREDENTIALS (user and password, one per line), never the
command line.

usage: python3 galera_writer.py ADDRESS CREDENTIALS DURATION [RATE] [FIRST_ID] [WRITERS]
"""

import json
import sys
import threading
import time

import pymysql


def connect(address, user, password):
    return pymysql.connect(host=address, user=user, password=password, database="brine_bench",
                           connect_timeout=1, read_timeout=2, write_timeout=2, autocommit=False)


def writer(address, user, password, ids, interval, end, outcomes, lock):
    """Commit the ids one per transaction, one each ``interval`` s; record (started, acked_at, id)."""
    conn = None
    errors = {}
    for next_id in ids:
        started = time.time()
        if started >= end:
            break
        try:
            if conn is None:
                conn = connect(address, user, password)
            with conn.cursor() as cur:
                cur.execute("INSERT INTO acked (id, at) VALUES (%s, %s)", (next_id, started))
            conn.commit()
            with lock:
                outcomes.append((started, time.time(), next_id))
        except Exception as exc:  # pylint: disable=broad-except
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            with lock:
                outcomes.append((started, None, next_id))
            try:
                if conn is not None:
                    conn.close()
            except Exception:  # pylint: disable=broad-except
                pass
            conn = None
        # An id that failed is never reused: it may or may not have committed.
        time.sleep(max(0.0, interval - (time.time() - started)))
    return errors


def stalls_of(outcomes):
    """[[since, seconds or None]]: from the first failure after an acknowledged commit to the next
    acknowledged commit (None: the run ended first)."""
    events = sorted([(started, False) for started, acked_at, _ in outcomes if acked_at is None]
                    + [(acked_at, True) for _, acked_at, _ in outcomes if acked_at is not None])
    stalls, since = [], None
    for at, ok in events:
        if not ok and since is None:
            since = at
        elif ok and since is not None:
            stalls.append([round(since, 4), round(at - since, 4)])
            since = None
    if since is not None:
        stalls.append([round(since, 4), None])
    return stalls


def main():
    address, creds, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 50.0
    first_id = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    count = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    user, password = open(creds, encoding="utf-8").read().split("\n")[:2]
    outcomes, lock, errors = [], threading.Lock(), {}
    began = time.time()
    end = began + duration
    # Writer k commits first_id + k, first_id + k + count, ...: ids never collide.
    slots = int(rate * duration) // count + 2
    threads = []
    for k in range(count):
        ids = range(first_id + k, first_id + k + slots * count, count)

        def run(ids=ids):
            for kind, n in writer(address, user, password, ids, count / rate, end, outcomes, lock).items():
                with lock:
                    errors[kind] = errors.get(kind, 0) + n

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    acked = sorted(i for _, acked_at, i in outcomes if acked_at is not None)
    print("JSON:" + json.dumps({
        "acked": acked, "stalls": stalls_of(outcomes), "errors": errors,
        "rate": round(len(acked) / max(1e-9, time.time() - began), 1), "writers": count,
        "next_id": first_id + slots * count,
    }), flush=True)


if __name__ == "__main__":
    main()
