"""
Who really sent an event: signatures, the keys they are made with, and the replay and rate guard.

Salt does not bind an event to its sender: a minion request may carry a list of events
(``events``, the beacon path) whose data, ``id`` included, the minion writes itself, and the
master fires them as they are. So every event Brine reacts to carries ``brine_sig``: an
HMAC-SHA256, under a key only the master and that minion hold, of the envelope id, the tag, the
payload, a time and a nonce. The key is derived from a master secret and the minion id
(:func:`minion_key`) and reaches the minion through its own pillar (``brine_events_key``,
pillar/brine_events_key.sls), which the highstate writes into its brine-events.conf. The minion
signs with :func:`sign` too (_modules/brine_sign.py, _grains/brine_start.py for the start event).
"""

import hashlib
import hmac
import json
import math
import os
import re
import time

from brinelib.events import Rejected, Unsigned, sender, shown
from brinelib.options import size_option
from brinelib.stores import Lock, load_store, replace_file, store_dir

SIG_VERSION = "brine-events-v1"
SIG_KEY = "brine_sig"
START_SIG_GRAIN = "brine_start_sig"
DEFAULT_SIGNIN_EVERY = 300  # seconds between two sign-ins of one minion (unsigned starts)
DEFAULT_MAX_AGE = 300  # seconds a signature is good for (either side of the master's clock)
DEFAULT_BURST = 10  # reactions a minion may start at once
DEFAULT_PER_MINUTE = 12  # and the rate at which that allowance comes back
NONCES_MAX = 1024  # nonces remembered per minion (within the age window)
_NONCE = re.compile(r"^[0-9a-f]{16,64}$")
_HEX_MAC = re.compile(r"^[0-9a-f]{64}$")


def master_secret(directory):
    """The master's secret (hex text), created once (mode 0600) in ``directory`` (the master's store)."""
    path = os.path.join(directory, "events.secret")
    try:
        with open(path, encoding="ascii") as fh:
            secret = fh.read().strip()
        if re.fullmatch(r"[0-9a-f]{64}", secret):
            return secret
        raise ValueError(f"{path} does not hold a 64-digit hex secret")
    except FileNotFoundError:
        pass
    os.makedirs(directory, mode=0o700, exist_ok=True)
    secret = os.urandom(32).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return master_secret(directory)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return secret


def minion_key(secret, minion):
    """The signing key of one minion: HMAC-SHA256 of its id under the master's secret."""
    return hmac.new(secret.encode("ascii"), f"{SIG_VERSION}\0{minion}".encode("utf-8"), hashlib.sha256).hexdigest()


def key_of(opts, minion):
    """The signing key the master whose options are ``opts`` gives ``minion`` (its pillar's
    ``brine_events_key``)."""
    return minion_key(master_secret(store_dir(opts)), minion)


def signing_text(minion, tag, payload, ts, nonce):
    """What the HMAC covers: the sender, the tag, the payload, the time and a nonce."""
    body = {k: v for k, v in payload.items()
            if k != SIG_KEY and not (isinstance(k, str) and k.startswith("__pub_"))}
    return json.dumps([SIG_VERSION, minion, tag, ts, nonce, body], sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def sign(key, minion, tag, payload, now=None, nonce=None):
    """``payload`` with its ``brine_sig`` (what a minion sends; for the tests and tools)."""
    ts = time.time() if now is None else now
    nonce = nonce or os.urandom(16).hex()
    mac = hmac.new(key.encode("ascii"), signing_text(minion, tag, payload, ts, nonce), hashlib.sha256).hexdigest()
    return dict(payload, **{SIG_KEY: {"ts": ts, "nonce": nonce, "mac": mac}})


def check_signature(key, minion, tag, payload, sig, now, max_age=DEFAULT_MAX_AGE):
    """``(ts, nonce)`` of a good signature, or Rejected."""
    if not isinstance(sig, dict) or set(sig) != {"ts", "nonce", "mac"}:
        raise Rejected("unsigned: no brine_sig (ts, nonce, mac) bound to the sender")
    ts, nonce, mac = sig["ts"], sig["nonce"], sig["mac"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise Rejected(f"brine_sig.ts: {shown(ts)} is not a time")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise Rejected(f"brine_sig.nonce: {shown(nonce)} is not 16-64 hex digits")
    if not isinstance(mac, str) or not _HEX_MAC.match(mac):
        raise Rejected(f"brine_sig.mac: {shown(mac)} is not an HMAC-SHA256")
    want = hmac.new(key.encode("ascii"), signing_text(minion, tag, payload, ts, nonce), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        raise Rejected(f"bad signature: not signed with the key of {shown(minion)}")
    if abs(now - ts) > max_age:
        raise Rejected(f"stale signature: signed {now - ts:.0f} s from the master's time (limit {max_age} s)")
    return ts, nonce


class Guard:
    """
    Per minion, in one JSON file of the runner's store (replaced whole by rename, like
    discovered.json): the nonces of the signatures accepted within the age window (a replay is
    refused) and a token bucket of reactions (``burst`` at once, ``per_minute`` coming back).
    Only minions whose signature checked out get an entry.
    """

    def __init__(self, path, burst=DEFAULT_BURST, per_minute=DEFAULT_PER_MINUTE, max_age=DEFAULT_MAX_AGE):
        self.path = path
        self.burst = burst
        self.per_minute = per_minute
        self.max_age = max_age

    def _load(self):
        # The worst a lost guard costs: a replay inside the window.
        return load_store(self.path)[0]

    def knows(self, minion):
        """Whether ``minion`` ever sent an event whose signature checked out."""
        with Lock(self.path):
            return isinstance(self._load().get(minion), dict)

    def admit(self, minion, nonce, now, acts):
        """Note the nonce; take a token when the event ``acts``. Rejected on a replay or when
        the minion's allowance is spent (then nothing is taken or noted)."""
        with Lock(self.path):
            state = self._load()
            entry = state.get(minion)
            if not isinstance(entry, dict):
                entry = {"tokens": float(self.burst), "updated": now, "nonces": {}}
            nonces = {n: t for n, t in dict(entry.get("nonces") or {}).items()
                      if isinstance(t, (int, float)) and now - t <= 2 * self.max_age}
            if nonce in nonces:
                raise Rejected("replayed signature: this nonce was accepted before")
            tokens = min(float(self.burst), float(entry.get("tokens", self.burst))
                         + max(0.0, now - float(entry.get("updated", now))) * self.per_minute / 60.0)
            if acts:
                if tokens < 1.0:
                    entry.update(tokens=tokens, updated=now, nonces=nonces)
                    state[minion] = entry
                    replace_file(self.path, json.dumps(state, sort_keys=True).encode("utf-8"))
                    raise Rejected(f"rate limited: {minion} started more than {self.burst} reactions "
                                   f"at {self.per_minute} a minute")
                tokens -= 1.0
            nonces[nonce] = now
            if len(nonces) > NONCES_MAX:
                nonces = dict(sorted(nonces.items(), key=lambda item: item[1])[-NONCES_MAX:])
            entry.update(tokens=tokens, updated=now, nonces=nonces)
            state[minion] = entry
            replace_file(self.path, json.dumps(state, sort_keys=True).encode("utf-8"))


def authenticate(kind, tag, data, opts, now):
    """
    ``(data, nonce)``: the event with its signature taken out, when it is signed with the key of
    the minion its envelope names (``data['id']``); Rejected otherwise. The signature of a
    start event is the ``brine_start_sig`` grain the minion adds to it (``start_event_grains``).
    """
    minion = sender(data)
    if kind == "minion_start":
        grains = data.get("grains")
        sig = grains.get(START_SIG_GRAIN) if isinstance(grains, dict) else None
        payload = {}
        if sig is None:
            raise Unsigned("unsigned start: the minion has no Brine signing key yet (never configured)")
    else:
        payload = data.get("data")
        if not isinstance(payload, dict):
            raise Rejected("the event carries no payload mapping (was it sent with event.send?)")
        sig = payload.get(SIG_KEY)
        data = dict(data, data={k: v for k, v in payload.items() if k != SIG_KEY})
    if not opts.get("cachedir"):
        raise Rejected("no master cachedir: no key to check the signature with")
    key = key_of(opts, minion)
    max_age = size_option(opts, "brine_events_max_age", DEFAULT_MAX_AGE)
    _ts, nonce = check_signature(key, minion, tag, payload, sig, now, max_age)
    return data, nonce


def guard(opts):
    """The replay and rate guard of the master whose options are ``opts``."""
    return Guard(os.path.join(store_dir(opts), "guard.json"),
                 burst=size_option(opts, "brine_reactions_burst", DEFAULT_BURST),
                 per_minute=size_option(opts, "brine_reactions_per_minute", DEFAULT_PER_MINUTE),
                 max_age=size_option(opts, "brine_events_max_age", DEFAULT_MAX_AGE))


def signin_guard(opts):
    """At most one sign-in per minion per ``brine_signin_every`` seconds (default 300)."""
    every = size_option(opts, "brine_signin_every", DEFAULT_SIGNIN_EVERY)
    return Guard(os.path.join(store_dir(opts), "signin-guard.json"), burst=1, per_minute=60.0 / every)
