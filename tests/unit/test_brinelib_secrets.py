"""brinelib.secrets: which names hold secrets, and settings made safe to show (brine.mapdata)."""

import pytest
from brinelib.secrets import MASK, masked, secret_key


@pytest.mark.parametrize("key", ["password", "stats_password", "passwd", "db_secret", "api_token",
                                 "credentials", "api_key", "key", "ssh-keys", "auth.key", "Secret_Key"])
def test_names_that_hold_secrets(key):
    assert secret_key(key)


@pytest.mark.parametrize("key", ["keymap", "keystone", "monkey", "stats_user", "sst_auth_file", "port", 1984])
def test_names_that_do_not(key):
    assert not secret_key(key)


def test_masked_hides_every_secret_at_any_depth_and_keeps_the_rest():
    settings = {
        "stats_user": "brine",
        "stats_password": "hunter2",
        "port": 1984,
        "realtime": True,
        "nested": {"list": [{"api_token": "t0k"}, "plain", 3], "keys": {"a": "b"}},
        "uri": "qemu+tls://admin:hunter2@host/system",
        "db": "mysql://nova:pw@db/nova?password=pw2&charset=utf8",
        "empty_password": "",
        "no_secret": None,
    }
    assert masked(settings) == {
        "stats_user": "brine",
        "stats_password": MASK,
        "port": 1984,
        "realtime": True,
        "nested": {"list": [{"api_token": MASK}, "plain", 3], "keys": MASK},
        "uri": f"qemu+tls://admin:{MASK}@host/system",
        "db": f"mysql://nova:{MASK}@db/nova?password={MASK}&charset=utf8",
        "empty_password": "",
        "no_secret": None,
    }
    assert settings["stats_password"] == "hunter2"  # a copy: the settings themselves are kept


def test_masked_leaves_scalars_and_tuples_alone_but_their_urls():
    assert masked(5) == 5 and masked(None) is None
    assert masked(("a", "http://u:p@h/")) == ["a", f"http://u:{MASK}@h/"]
