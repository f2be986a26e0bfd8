"""
Every nova.conf fixture, patched for every release Brine accepts, loaded with nova's own option
definitions of that release (Debian's python3-nova for Zed, the option files of nova's release
tags for the others: tests/nova_judge.py): nova reads the wanted values, under the names it
reads without a deprecation warning, and a second patch changes nothing.
"""

import pytest
from brine_inventory import normalise
from brine_testlib import REPO, example_inventory
from nova_judge import DEBIAN, SPELLINGS, definitions, judge, nova_reads

import nova_console as nc

DATA = REPO / "tests" / "data" / "nova"
FIXTURES = sorted(p.name for p in DATA.glob("*.conf"))
JUDGES = definitions()
# Every release name with a row, its YEAR.N spellings, and one release newer than any nova
# tag here (nova_judge.judge gives it the newest definitions: nova has not released it).
RELEASES = sorted(
    [name for name in nc._NAMED if nc.release_ordinal(name) >= nc.release_ordinal("icehouse")]
    + ["2014.1", "2014.2", "2015.1", "2023.1", "2023.2", "2024.1", "2024.2", "2025.1", "2025.2", "2026.1", "2027.1"],
    key=nc.release_ordinal,
)


def wanted_for(release, role):
    inv = example_inventory()
    inv["openstack"]["release"] = release
    return nc.console_settings(normalise(inv), "ubuntu1", role)


def test_every_accepted_release_has_definitions_of_its_own():
    named = [r for r in RELEASES if r in nc._NAMED]
    assert sorted(JUDGES, key=nc.release_ordinal) == named
    assert JUDGES["zed"] == DEBIAN


@pytest.mark.parametrize("release", RELEASES)
def test_the_release_table_is_novas(tmp_path, release):
    """RELEASE_TABLE says, option by option, the name nova reads and the aliases it still reads."""
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    reading = nova_reads(judge(release), [empty])[0]
    for option in SPELLINGS:
        opt = reading.opt(option)
        group, key = nc.option_name(option, release)
        assert (nc.normalize_group(group), key) == (opt["group"], opt["name"]), option
        assert sorted(map(list, nc.deprecated_names(option, release))) == sorted(opt["deprecated"]), option
        for other_group, other_key in nc.other_names(option, release):
            expected = "deprecated" if (other_group, other_key) in nc.deprecated_names(option, release) else "ignored"
            assert reading.read_as(other_group, other_key) == expected, (other_group, other_key)


@pytest.mark.parametrize("role", nc.ROLES)
@pytest.mark.parametrize("release", RELEASES)
def test_patched_fixtures_give_nova_the_wanted_values(tmp_path, release, role):
    wanted = wanted_for(release, role)
    patched = {}
    for name in FIXTURES:
        new, _ = nc.patch_text((DATA / name).read_text(), wanted)
        path = tmp_path / name
        path.write_text(new)
        patched[name] = (path, new)
        again = nc.patch_text(new, wanted)
        assert again == (new, []), f"{name}: a second patch changed {again[1]}"
    readings = nova_reads(judge(release), [path for path, _ in patched.values()])
    for (name, (path, new)), reading in zip(patched.items(), readings):
        values = {option: reading.value(option) for option in wanted["options"]}
        assert values == wanted["options"], name
        names = {s for option in wanted["options"] for s in SPELLINGS[option]}
        warned = [w for w in reading.warnings if any(f'"{n}"' in w for n in names)]
        assert warned == [], name
        # no managed option left under a name nova reads as deprecated or does not read
        for group, keys in nc.parse(new).values().items():
            if group not in ("DEFAULT", "vnc"):
                continue
            for key in keys:
                if key in names:
                    assert reading.read_as(group, key) == "primary", (name, group, key)


@pytest.mark.parametrize("fixture, release", [("pike-nova-compute.conf", "pike"), ("queens-nova-compute.conf", "queens")])
def test_a_file_right_for_its_release_is_left_alone(fixture, release):
    text = (DATA / fixture).read_text()
    reading = nova_reads(judge(release), [DATA / fixture])[0]
    for role in nc.ROLES:
        wanted = wanted_for(release, role)
        assert {o: reading.value(o) for o in wanted["options"]} == wanted["options"]
        assert nc.patch_text(text, wanted) == (text, [])
    assert reading.warnings == []


def test_the_judge_tells_the_pike_and_queens_names_apart():
    """Pike does not read server_listen; Yoga does not read vncserver_listen."""
    pike_file, queens_file = DATA / "pike-nova-compute.conf", DATA / "queens-nova-compute.conf"
    pike = nova_reads(judge("pike"), [queens_file])[0]
    assert pike.value("server_listen") == "127.0.0.1" and pike.read_as("vnc", "server_listen") == "ignored"
    queens = nova_reads(judge("queens"), [pike_file])[0]
    assert queens.value("server_listen") == "10.10.0.11"
    assert any('"vncserver_listen"' in w for w in queens.warnings)
    yoga = nova_reads(judge("yoga"), [pike_file])[0]
    assert yoga.value("server_listen") == "127.0.0.1" and yoga.read_as("vnc", "vncserver_listen") == "ignored"
    zed = nova_reads(judge("zed"), [pike_file])[0]
    assert zed.value("server_proxyclient_address") == "127.0.0.1"


@pytest.mark.parametrize("release", ["austin", "essex", "2013.2", "havana"])
def test_releases_before_the_table_are_refused(release):
    with pytest.raises(nc.InventoryProblem, match=r"^brine:openstack:release: .*older than icehouse"):
        wanted_for(release, "compute")
