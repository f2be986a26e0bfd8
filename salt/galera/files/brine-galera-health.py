#!/usr/bin/python3
"""
brine-galera-health: the HTTP health check HAProxy's Galera backend asks (port 9200).

Any GET (or HEAD) answers 200 only when this node is Synced (wsrep_local_state 4), in the
Primary component and wsrep_ready is ON; 503 otherwise, also when mariadbd is down or slow.
The status comes from ``mariadb -N -B`` over the unix socket with the monitoring account of an
option file (never a command-line password). Answers are cached for --cache seconds and one
query runs at a time, so a burst of checks costs one query. Standard library only.

Managed by Salt (Brine: salt/galera).
"""

import argparse
import http.server
import subprocess
import sys
import threading
import time

# parse_status and verdict are brine_galera's parse_status and health again: this file runs
# under the host's own python3, where brinelib is not installed (Salt's Python has it), and a
# health check must not depend on Salt. tests/unit/test_brine_galera.py keeps the two agreeing.
VARIABLES = ("wsrep_local_state", "wsrep_cluster_status", "wsrep_ready")
STATES = {"1": "Joining", "2": "Donor/Desynced", "3": "Joined", "4": "Synced"}


def parse_status(text):
    """``{variable: value}`` from tab-separated ``SHOW GLOBAL STATUS`` output."""
    values = {}
    for line in (text or "").splitlines():
        name, sep, value = line.partition("\t")
        if sep:
            values[name.strip().lower()] = value.strip()
    return values


def verdict(values):
    """``(code, text)``: 200 when Synced, Primary and ready; else 503 with the reason."""
    if not values:
        return 503, "mariadb is not answering"
    problems = []
    state = values.get("wsrep_local_state")
    if state != "4":
        problems.append(f"wsrep_local_state {state} ({STATES.get(state, 'unknown')})")
    if values.get("wsrep_cluster_status") != "Primary":
        problems.append(f"wsrep_cluster_status {values.get('wsrep_cluster_status')}")
    if (values.get("wsrep_ready") or "").upper() != "ON":
        problems.append(f"wsrep_ready {values.get('wsrep_ready')}")
    if problems:
        return 503, "not synced: " + ", ".join(problems)
    return 200, "synced, primary, ready"


class Checker:
    def __init__(self, client, defaults_file, cache, timeout):
        self.argv = [client, f"--defaults-file={defaults_file}", "-N", "-B", "--connect-timeout=2", "-e",
                     "SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ", ".join(f"'{v}'" for v in VARIABLES)]
        self.cache, self.timeout = cache, timeout
        self.lock = threading.Lock()
        self.answer, self.when = (503, "starting"), float("-inf")

    def query(self):
        try:
            proc = subprocess.run(self.argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return 503, f"mariadb is not answering ({type(exc).__name__})"
        if proc.returncode:
            return 503, "mariadb is not answering"
        return verdict(parse_status(proc.stdout))

    def __call__(self):
        with self.lock:
            if time.monotonic() - self.when >= self.cache:
                self.answer, self.when = self.query(), time.monotonic()
            return self.answer


def serve(address, port, checker):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = "brine-galera-health"
        sys_version = ""

        def _answer(self, body=True):
            code, text = checker()
            data = (text + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def handle(self):
            try:
                super().handle()
            except ConnectionError:
                # HAProxy resets a check's connection once it has read the status line: the rest
                # of the answer has nowhere to go, and a traceback per check would flood the journal.
                pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._answer()

        def do_OPTIONS(self):  # noqa: N802 - HAProxy's default httpchk method
            self._answer()

        def do_HEAD(self):  # noqa: N802
            self._answer(body=False)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        timeout = 5

    if ":" in address:
        Server.address_family = __import__("socket").AF_INET6
    server = Server((address, port), Handler)
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="address to listen on (the management address)")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--defaults-file", required=True, help="mariadb client option file: user, password, socket")
    parser.add_argument("--client", default="/usr/bin/mariadb")
    parser.add_argument("--cache", type=float, default=1.0, help="seconds an answer is reused")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds a status query may take")
    args = parser.parse_args(argv)
    serve(args.listen, args.port, Checker(args.client, args.defaults_file, args.cache, args.timeout))


if __name__ == "__main__":
    sys.exit(main())
