"""brinelib.kolla_passwords: kolla-genpwd's semantics (stable/2024.1) as a pure fill."""

import hmac
import itertools
from hashlib import md5

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from brinelib import kolla_passwords as kp

# A few keys of kolla's 2024.1 template, one of every class, in the template's order.
TEMPLATE = """\
---
###################
# Ceph options
####################
# These options must be UUID4 values in string format
# XXXXXXXX-XXXX-4XXX-XXXX-XXXXXXXXXXXX
rbd_secret_uuid:
cinder_rbd_secret_uuid:

database_password:
keystone_admin_password:
docker_registry_password:

designate_rndc_key:
barbican_crypto_key:
prometheus_bcrypt_salt:

nova_ssh_key:
  private_key:
  public_key:
kolla_ssh_key:
  private_key:
  public_key:
"""
KEYS = kp.template_keys(TEMPLATE)
FERNET = "x" * 43 + "="  # URL-safe base64 of 32 bytes


def ssh_pair(n):
    return {"private_key": f"PRIVATE {n}\nline 2\n", "public_key": f"ssh-rsa AAAA{n}"}


def fake_generators():
    """Deterministic generators of the right shapes; each call gives a new value."""
    n = itertools.count(1)
    return {
        "uuid": lambda: f"00000000-0000-4000-8000-{next(n):012d}",
        "ssh": lambda: ssh_pair(next(n)),
        "hmac_md5": lambda: f"{next(n):032x}",
        "fernet": lambda: FERNET,
        "bcrypt_salt": lambda: f"{next(n):022d}",
        "password": lambda: f"pw{next(n):038d}",
    }


def filled_once():
    return kp.fill(KEYS, None, fake_generators())[0]


def test_template_keys_keep_the_templates_order():
    assert KEYS == [
        "rbd_secret_uuid",
        "cinder_rbd_secret_uuid",
        "database_password",
        "keystone_admin_password",
        "docker_registry_password",
        "designate_rndc_key",
        "barbican_crypto_key",
        "prometheus_bcrypt_salt",
        "nova_ssh_key",
        "kolla_ssh_key",
    ]


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_template_keys_refuses_a_template_that_is_not_a_mapping(text):
    with pytest.raises(kp.PasswordsRefused, match="template: is not a mapping"):
        kp.template_keys(text)


def test_template_keys_refuses_keys_that_are_not_names():
    with pytest.raises(kp.PasswordsRefused, match="template: key 123 is not a string"):
        kp.template_keys("database_password:\n123:\n")


@pytest.mark.parametrize(
    "key, cls",
    [
        ("rbd_secret_uuid", "uuid"),
        ("cinder_rbd_secret_uuid", "uuid"),
        ("designate_pool_id", "uuid"),
        ("gnocchi_user_id", "uuid"),
        ("haproxy_ssh_key", "ssh"),
        ("neutron_ssh_key", "ssh"),
        ("octavia_amp_ssh_key", "ssh"),
        ("docker_registry_password", "blank"),
        ("osprofiler_secret", "hmac_md5"),
        ("designate_rndc_key", "hmac_md5"),
        ("barbican_crypto_key", "fernet"),
        ("prometheus_bcrypt_salt", "bcrypt_salt"),
        ("keystone_admin_password", "password"),
        ("anything_else", "password"),
    ],
)
def test_key_class_follows_genpwds_lists(key, cls):
    assert kp.key_class(key) == cls


def test_fill_from_nothing_gives_every_key_its_class():
    filled, added = kp.fill(KEYS, None, fake_generators())
    assert list(filled) == KEYS
    assert added == KEYS  # the blank key too: it is new, added empty
    assert filled["rbd_secret_uuid"] == "00000000-0000-4000-8000-000000000001"
    assert filled["cinder_rbd_secret_uuid"] == "00000000-0000-4000-8000-000000000002"
    assert filled["database_password"] == f"pw{3:038d}"
    assert filled["keystone_admin_password"] == f"pw{4:038d}"
    assert filled["docker_registry_password"] is None
    assert filled["designate_rndc_key"] == f"{5:032x}"
    assert filled["barbican_crypto_key"] == FERNET
    assert filled["prometheus_bcrypt_salt"] == f"{6:022d}"
    assert filled["nova_ssh_key"] == ssh_pair(7)
    assert filled["kolla_ssh_key"] == ssh_pair(8)


def test_fill_keeps_every_non_empty_value_as_it_is():
    existing = {
        "rbd_secret_uuid": "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE",
        "database_password": "  spaces, ünïcode & 'quotes'  ",
        "nova_ssh_key": {"private_key": "kept private\n", "public_key": "kept public"},
        "docker_registry_password": "a registry password",
        "barbican_crypto_key": FERNET,
    }
    filled, added = kp.fill(KEYS, existing, fake_generators())
    for key, value in existing.items():
        assert filled[key] is value
    assert set(added) == set(KEYS) - set(existing) - {"docker_registry_password"}
    reloaded = yaml.safe_load(kp.render(filled))
    assert {key: reloaded[key] for key in existing} == existing


@pytest.mark.parametrize("empty", [None, ""])
def test_fill_fills_only_the_empty_keys(empty):
    existing = filled_once()
    existing["keystone_admin_password"] = empty
    existing["cinder_rbd_secret_uuid"] = empty
    filled, added = kp.fill(KEYS, dict(existing), fake_generators())
    assert added == ["cinder_rbd_secret_uuid", "keystone_admin_password"]
    assert filled["cinder_rbd_secret_uuid"] == "00000000-0000-4000-8000-000000000001"
    assert filled["keystone_admin_password"].startswith("pw")
    assert {k: v for k, v in filled.items() if k not in added} == {k: v for k, v in existing.items() if k not in added}


@pytest.mark.parametrize(
    "empty_pair", [None, "", {"private_key": None, "public_key": None}, {"private_key": "", "public_key": None}]
)
def test_fill_makes_a_pair_for_an_empty_ssh_key(empty_pair):
    existing = filled_once()
    existing["kolla_ssh_key"] = empty_pair
    filled, added = kp.fill(KEYS, existing, fake_generators())
    assert added == ["kolla_ssh_key"]
    assert filled["kolla_ssh_key"] == ssh_pair(1)


@pytest.mark.parametrize("blank", [None, ""])
def test_blank_keys_stay_blank(blank):
    existing = filled_once()
    existing["docker_registry_password"] = blank
    filled, added = kp.fill(KEYS, existing, fake_generators())
    assert added == []
    assert filled["docker_registry_password"] is blank


def test_fill_is_idempotent():
    first, _ = kp.fill(KEYS, None, fake_generators())
    second, added = kp.fill(KEYS, yaml.safe_load(kp.render(first)), fake_generators())
    assert added == []
    assert second == first
    assert kp.render(second) == kp.render(first)


def test_keys_outside_the_template_are_kept_after_it():
    existing = {"zz_old_password": "old", "aa_removed": "gone from the template", "database_password": "db"}
    filled, added = kp.fill(KEYS, existing, fake_generators())
    assert list(filled) == KEYS + ["zz_old_password", "aa_removed"]
    assert filled["zz_old_password"] == "old" and filled["aa_removed"] == "gone from the template"
    assert "database_password" not in added


def test_an_empty_key_outside_the_template_is_filled_by_its_class():
    filled, added = kp.fill([], {"haproxy_ssh_key": None, "extra_password": ""}, fake_generators())
    assert added == ["haproxy_ssh_key", "extra_password"]
    assert set(filled["haproxy_ssh_key"]) == {"private_key", "public_key"}
    assert filled["extra_password"].startswith("pw")


def test_fill_refuses_missing_generators():
    generators = fake_generators()
    del generators["fernet"]
    generators["uuid"] = "not callable"
    with pytest.raises(TypeError, match="no callable for fernet, uuid"):
        kp.fill(KEYS, None, generators)


def test_fill_needs_no_generator_for_keys_it_keeps():
    assert kp.fill(KEYS, filled_once(), {})[1] == []


@pytest.mark.parametrize(
    "cls, bad, reason",
    [
        ("uuid", lambda: "not-a-uuid", "is not a UUID"),
        ("ssh", lambda: "a string", "is a str; an SSH key is a mapping"),
        ("password", lambda: 1234, "is a int, not a string"),
        ("fernet", lambda: "short", "is not a Fernet key"),
        ("bcrypt_salt", lambda: "bad salt!", "is not a bcrypt salt"),
    ],
)
def test_fill_checks_what_a_generator_makes(cls, bad, reason):
    generators = fake_generators()
    generators[cls] = bad
    with pytest.raises(ValueError, match=f"the {cls} generator made a value for .* that {reason}"):
        kp.fill(KEYS, None, generators)


@pytest.mark.parametrize(
    "existing, message",
    [
        ({"nova_ssh_key": "ssh-rsa AAAA"}, "passwords.yml: nova_ssh_key: is a str; an SSH key is a mapping"),
        ({"nova_ssh_key": ["a", "b"]}, "passwords.yml: nova_ssh_key: is a list; an SSH key is a mapping"),
        (
            {"nova_ssh_key": {"private_key": "p", "public_key": "q", "comment": "x"}},
            "passwords.yml: nova_ssh_key: has comment; an SSH key holds only private_key and public_key",
        ),
        (
            {"nova_ssh_key": {"private_key": "p", "public_key": None}},
            "passwords.yml: nova_ssh_key: has no public_key but has the other half",
        ),
        (
            {"kolla_ssh_key": {"private_key": None, "public_key": "q"}},
            "passwords.yml: kolla_ssh_key: has no private_key but has the other half",
        ),
        ({"database_password": 12345}, "passwords.yml: database_password: is a int, not a string"),
        ({"database_password": True}, "passwords.yml: database_password: is a bool, not a string"),
        ({"database_password": {"a": 1}}, "passwords.yml: database_password: is a dict, not a string"),
        ({"docker_registry_password": 0}, "passwords.yml: docker_registry_password: is a int, not a string"),
        ({"rbd_secret_uuid": "password"}, "passwords.yml: rbd_secret_uuid: is not a UUID"),
        ({"barbican_crypto_key": "tooshort"}, "passwords.yml: barbican_crypto_key: is not a Fernet key"),
        ({"prometheus_bcrypt_salt": "x" * 21}, "passwords.yml: prometheus_bcrypt_salt: is not a bcrypt salt"),
        ({"prometheus_bcrypt_salt": "x" * 21 + "$"}, "passwords.yml: prometheus_bcrypt_salt: is not a bcrypt salt"),
        ({1: "x"}, "passwords.yml: key 1 is not a string"),
        (["a", "list"], "passwords.yml: is a list, not a mapping"),
        ("text", "passwords.yml: is a str, not a mapping"),
    ],
)
def test_problems_name_the_key_and_fill_refuses(existing, message):
    found = kp.problems(existing)
    assert len(found) == 1 and found[0].startswith(message)
    with pytest.raises(kp.PasswordsRefused) as refused:
        kp.fill(KEYS, existing, fake_generators())
    assert refused.value.problems == found


def test_problems_list_every_key_at_fault_and_never_quote_a_value():
    secret = "s3cr3t-value"
    existing = {"rbd_secret_uuid": secret, "nova_ssh_key": secret, "database_password": "fine"}
    found = kp.problems(existing)
    assert [line.split(":")[1].strip() for line in found] == ["rbd_secret_uuid", "nova_ssh_key"]
    assert all(secret not in line for line in found)


def test_problems_accept_a_filled_file_and_empty_values():
    assert kp.problems(filled_once()) == []
    assert kp.problems(None) == []
    assert kp.problems({}) == []
    assert kp.problems({key: None for key in KEYS}) == []
    assert kp.problems({"rbd_secret_uuid": "", "nova_ssh_key": {"private_key": None, "public_key": None}}) == []


def test_render_keeps_the_order_and_loads_back():
    filled = filled_once()
    text = kp.render(filled)
    assert text.startswith("---\n")
    top = [line.split(":")[0] for line in text.splitlines()[1:] if line and not line.startswith(" ")]
    assert top == KEYS
    assert yaml.safe_load(text) == filled
    assert "private_key: |\n    PRIVATE 7\n    line 2\n" in text
    assert "docker_registry_password: null\n" in text


@pytest.mark.parametrize("value", ["yes", "0123", "null", "123", "a: b", "- x", "#x", " lead", "trail\n "])
def test_render_quotes_what_yaml_would_read_as_something_else(value):
    filled = {"database_password": value, "kolla_ssh_key": {"private_key": value + "\nmore", "public_key": value}}
    assert yaml.safe_load(kp.render(filled)) == filled


def test_default_generators_make_genpwds_shapes():
    generators = kp.default_generators()
    assert set(generators) == set(kp.GENERATED)
    for cls in ("uuid", "hmac_md5", "fernet", "bcrypt_salt", "password"):
        one, two = generators[cls](), generators[cls]()
        assert one != two
        assert kp._shape_problem({"uuid": "rbd_secret_uuid", "hmac_md5": "osprofiler_secret",
                                  "fernet": "barbican_crypto_key", "bcrypt_salt": "prometheus_bcrypt_salt",
                                  "password": "database_password"}[cls], one) is None
    password = generators["password"]()
    assert len(password) == 40 and set(password) <= set(kp.PASSWORD_ALPHABET)
    digest = generators["hmac_md5"]()
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert len(hmac.new(b"k", b"", md5).hexdigest()) == len(digest)
    salt = generators["bcrypt_salt"]()
    assert len(salt) == 22 and set(salt) <= set(kp.BCRYPT_SALT_ALPHABET)


def test_default_ssh_key_is_an_rsa_4096_pair_as_genpwd_writes_it():
    pair = kp.default_generators()["ssh"]()
    assert pair["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    private = serialization.load_pem_private_key(pair["private_key"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 4096
    public = serialization.load_ssh_public_key(pair["public_key"].encode())
    assert public.public_numbers() == private.public_key().public_numbers()
    assert pair["public_key"].startswith("ssh-rsa ")
    assert yaml.safe_load(kp.render({"kolla_ssh_key": pair})) == {"kolla_ssh_key": pair}


def test_fill_uses_the_default_generators_when_none_are_given():
    filled, added = kp.fill(["database_password", "rbd_secret_uuid"], {"database_password": None})
    assert added == ["database_password", "rbd_secret_uuid"]
    assert kp.problems(filled) == []
    assert len(filled["database_password"]) == 40


def test_fill_leaves_its_argument_alone():
    existing = {"database_password": None, "nova_ssh_key": {"private_key": None, "public_key": None}}
    kp.fill(KEYS, existing, fake_generators())
    assert existing == {"database_password": None, "nova_ssh_key": {"private_key": None, "public_key": None}}


def genpwd_would_fill(key, value):
    """genpwd.py's (2024.1) test of a value it replaces (its loop over the file's items)."""
    if key in kp.SSH_KEYS and (value is None or value.get("public_key") is None and value.get("private_key") is None):
        return True
    return value is None and key not in kp.BLANK_KEYS


@pytest.mark.parametrize("start", [None, {"database_password": "", "kolla_ssh_key": {"private_key": None}}])
def test_genpwd_finds_nothing_to_fill_in_a_filled_file(start):
    filled, _ = kp.fill(KEYS + list(kp.SSH_KEYS) + list(kp.UUID_KEYS), start, fake_generators())
    reloaded = yaml.safe_load(kp.render(filled))
    assert [key for key, value in reloaded.items() if genpwd_would_fill(key, value)] == []
    assert genpwd_would_fill("database_password", None) and genpwd_would_fill("nova_ssh_key", {"private_key": None})
