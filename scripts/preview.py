"""
Converge every host of the inventory masterless in test mode and print a summary.

Salt's cache, PKI and logs go to .cache/preview/ so the preview leaves the host alone.
Exit status: 0 when every host's states would succeed, 1 otherwise.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def minion_config(workdir):
    config_dir = workdir / "etc"
    config_dir.mkdir(parents=True, exist_ok=True)
    text = (REPO / "etc" / "minion").read_text()
    text += (
        f"\ncachedir: {workdir / 'cache'}\npki_dir: {workdir / 'pki'}\n"
        f"sock_dir: {workdir / 'sock'}\nlog_file: {workdir / 'minion.log'}\n"
    )
    (config_dir / "minion").write_text(text)
    return config_dir


def preview(host, config_dir):
    cmd = [
        str(Path(sys.executable).parent / "salt-call"), "--local", "-c", str(config_dir),
        "--file-root", str(REPO / "salt"), "--pillar-root", str(REPO / "pillar"), "-m", str(REPO),
        "--id", host, "--out", "json", "-l", "quiet", "state.apply", "test=True",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    try:
        return json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        return [f"salt-call failed (rc={proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("hosts", nargs="*", help="hosts to preview (default: all in the inventory)")
    args = parser.parse_args()
    inventory = yaml.safe_load((REPO / "pillar" / "brine" / "example-lab.yaml").read_text())
    hosts = args.hosts or sorted(inventory["hosts"])
    config_dir = minion_config(REPO / ".cache" / "preview")
    failed = 0
    print(f"{'host':<12} {'roles':<40} {'states':>6} {'ok':>4} {'would change':>12} {'failed':>6}")
    for host in hosts:
        result = preview(host, config_dir)
        roles = ",".join(inventory["hosts"].get(host, {}).get("roles", []))
        if not isinstance(result, dict):
            failed += 1
            print(f"{host:<12} {roles:<40} render errors:")
            for line in result:
                print(f"    {line}")
            continue
        values = list(result.values())
        bad = [r for r in values if r["result"] is False]
        pending = [r for r in values if r["result"] is None or r["changes"]]
        failed += bool(bad)
        print(f"{host:<12} {roles:<40} {len(values):>6} {len(values) - len(bad):>4} {len(pending):>12} {len(bad):>6}")
        for r in bad:
            print(f"    FAILED {r['__id__']}: {r['comment']}")
    print(f"\n{len(hosts)} hosts previewed in test mode; {failed} with failures.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
