"""
Runs on the bootstrap host (with keystone_http.py beside it) as the benchmarks' Keystone user
(ACCOUNT: a root-only file, user, password and project one per line). Each verb prints one JSON
line; tokens stay in this guest (in memory, or in a root-only FILE), never printed.

check ACCOUNT ISSUERS VALIDATORS
    one token issued by each ISSUER, each validated on every VALIDATOR (comma lists of
    http://host:port): {"issuers": {issuer: {"issued": true|status, "validated": {validator: status}}}}
load ACCOUNT BASE DURATION RATE [WORKERS]
    tokens requested of BASE (the internal VIP) at RATE per second for DURATION s, by up to
    WORKERS requests at a time: {"began", "duration", "rate", "attempts": [[sent, done, ok], ...], "errors"}
issue ACCOUNT FILE COUNT ISSUERS
    COUNT tokens from each ISSUER, kept in FILE: {"issued", "failed"}
verify ACCOUNT FILE VALIDATORS
    every token of FILE validated on every VALIDATOR: {"tokens", "results": [[issuer, {validator: status}], ...]}
watch ACCOUNT DURATION INTERVAL LOOKBACK ISSUERS VALIDATORS [STOP]
    every INTERVAL s a token from the next ISSUER (in turn), validated at once on every
    VALIDATOR, and again LOOKBACK s later, until DURATION s have passed or the file STOP exists:
    {"issued": n, "issue_failures": [[t, issuer, status], ...], "validations": n,
     "failures": [[t, issued_at, issuer, validator, status], ...]}

usage: python3 keystone_client.py VERB ARGS...
"""

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from keystone_http import TIMEOUT, KeystoneError, issue, read_account, validate

# check, issue and verify test behaviour: they wait as long as a Keystone loading its
# application after a restart may take; load and watch measure, with keystone_http's TIMEOUT.
PATIENT = 30.0


def issue_status(base, account, timeout=TIMEOUT):
    """``(token, None)`` or ``(None, status)``: status None when nothing answered."""
    try:
        return issue(base, *account, timeout=timeout), None
    except KeystoneError as exc:
        return None, exc.status
    except OSError:
        return None, None


def check(account, issuers, validators):
    out = {}
    for issuer in issuers:
        token, status = issue_status(issuer, account, PATIENT)
        out[issuer] = {"issued": True if token else status,
                       "validated": {v: validate(v, token, PATIENT) for v in validators} if token else {}}
    return {"issuers": out}


def load(account, base, duration, rate, workers):
    attempts, errors, lock = [], {}, threading.Lock()

    def attempt():
        sent = time.time()
        try:
            token, status = issue_status(base, account)
        except Exception as exc:  # pylint: disable=broad-except  (a lost attempt would hide a failure)
            token, status = None, type(exc).__name__
        done = time.time()
        with lock:
            attempts.append([round(sent, 4), round(done, 4), token is not None])
            if token is None:
                kind = "no answer" if status is None else str(status)
                errors[kind] = errors.get(kind, 0) + 1

    began = time.time()
    interval = 1.0 / rate
    with ThreadPoolExecutor(max_workers=workers) as pool:
        n = 0
        while (due := began + n * interval) < began + duration:
            time.sleep(max(0.0, due - time.time()))
            pool.submit(attempt)
            n += 1
    attempts.sort()
    return {"began": round(began, 4), "duration": duration, "rate": rate, "attempts": attempts, "errors": errors}


def issue_to_file(account, path, count, issuers):
    tokens, failed = [], 0
    for issuer in issuers:
        for _ in range(count):
            token, _ = issue_status(issuer, account, PATIENT)
            if token:
                tokens.append([issuer, token])
            else:
                failed += 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(tokens, fh)
    return {"issued": len(tokens), "failed": failed}


def verify(path, validators):
    with open(path, encoding="utf-8") as fh:
        tokens = json.load(fh)
    return {"tokens": len(tokens),
            "results": [[issuer, {v: validate(v, token, PATIENT) for v in validators}] for issuer, token in tokens]}


def watch(account, duration, interval, lookback, issuers, validators, stop=None):
    pending = []  # [issued_at, issuer, token] waiting for their second validation
    issued, issue_failures, failures, validations = 0, [], [], 0
    end = time.time() + duration
    turn = 0
    while time.time() < end and not (stop and os.path.exists(stop)):
        started = time.time()
        issuer = issuers[turn % len(issuers)]
        turn += 1
        token, status = issue_status(issuer, account)
        due = [p for p in pending if started - p[0] >= lookback]
        pending = [p for p in pending if started - p[0] < lookback]
        if token:
            issued += 1
            due.insert(0, [started, issuer, token])
            pending.append([started, issuer, token])
        else:
            issue_failures.append([round(started, 4), issuer, status])
        for issued_at, source, held in due:
            for validator in validators:
                validations += 1
                result = validate(validator, held)
                if result != 200:
                    failures.append([round(time.time(), 4), round(issued_at, 4), source, validator, result])
        time.sleep(max(0.0, interval - (time.time() - started)))
    return {"issued": issued, "issue_failures": issue_failures, "validations": validations, "failures": failures}


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    account = read_account(args[0])
    if verb == "check":
        result = check(account, args[1].split(","), args[2].split(","))
    elif verb == "load":
        result = load(account, args[1], float(args[2]), float(args[3]), int(args[4]) if len(args) > 4 else 8)
    elif verb == "issue":
        result = issue_to_file(account, args[1], int(args[2]), args[3].split(","))
    elif verb == "verify":
        result = verify(args[1], args[2].split(","))
    elif verb == "watch":
        result = watch(account, float(args[1]), float(args[2]), float(args[3]), args[4].split(","), args[5].split(","),
                       args[6] if len(args) > 6 else None)
    else:
        raise SystemExit(f"unknown verb {verb!r}: check, load, issue, verify or watch")
    print("JSON:" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
