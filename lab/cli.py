"""
brine-lab: Brine's virtual lab (one user-mode-linux guest per inventory host).

  up                   boot every host, start the lab switch and the salt-master; wait until
                       every minion answers
  down                 stop everything and remove the lab (nothing stays but .cache/lab/logs)
  status               hosts, running, command channel, control address
  exec HOST CMD...     run a shell command in HOST as root (exit status passed through)
  console HOST         print HOST's console log (-f to follow it)
  cut HOST NIC         pull NIC's cable (carrier loss inside HOST)      mend HOST NIC: plug it back
  kill HOST            power failure                                     start HOST: power on
  partition HOST...    cut HOSTs off the lab switch (NICs keep carrier)  heal: undo partitions
  salt ARGS...         the lab master's salt CLI, e.g. brine-lab salt '*' state.apply
  image                build (or find) the cached base image and print its path
"""

import argparse
import json
import os
import sys
import time

from lab import image
from lab.core import Lab, LabError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="brine-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", help="inventory file under pillar/ (default brine/example-lab.yaml, "
                        "or $BRINE_LAB_INVENTORY)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("up"); p.add_argument("--timeout", type=int, default=300); p.add_argument("--no-wait", action="store_true")
    p = sub.add_parser("down"); p.add_argument("--purge-logs", action="store_true")
    p = sub.add_parser("status"); p.add_argument("--json", action="store_true")
    p = sub.add_parser("exec"); p.add_argument("host"); p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.add_argument("--timeout", type=int, default=600)
    p = sub.add_parser("console"); p.add_argument("host"); p.add_argument("-f", "--follow", action="store_true")
    for name in ("cut", "mend"):
        p = sub.add_parser(name); p.add_argument("host"); p.add_argument("nic")
    p = sub.add_parser("kill"); p.add_argument("host")
    p = sub.add_parser("start"); p.add_argument("host"); p.add_argument("--no-wait", action="store_true")
    p = sub.add_parser("partition"); p.add_argument("hosts", nargs="+")
    sub.add_parser("heal")
    p = sub.add_parser("salt"); p.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("image")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("brine-lab: run as root (network namespaces, UML guests)", file=sys.stderr)
        return 2
    try:
        if args.command == "image":
            print(image.ensure_base_image())
            return 0
        lab = Lab(args.inventory)
        if args.command == "up":
            seconds = lab.up(wait=not args.no_wait, timeout=args.timeout)
            print(f"lab up: {len(lab.layout.hosts)} hosts in {seconds:.1f} s"
                  + ("" if args.no_wait else " (all minions answer)"))
        elif args.command == "down":
            left = lab.down(keep_logs=not args.purge_logs)
            if left:
                print("lab down: still there:\n  " + "\n  ".join(left), file=sys.stderr)
                return 1
            print("lab down: nothing left behind")
        elif args.command == "status":
            status = lab.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                print(f"lab {'up' if status['up'] else 'down'} (netns {status['netns']}, "
                      f"master {'running' if status['master'] else 'stopped'})")
                for row in status["hosts"]:
                    state = "running" if row["running"] else "stopped"
                    channel = "answers" if row["channel"] else "-"
                    print(f"  {row['host']:<12} {state:<8} channel {channel:<8} {row['control_ip']:<15} "
                          f"{','.join(row['roles'])}")
            return 0 if status["up"] else 3
        elif args.command == "exec":
            if not args.cmd:
                raise LabError("exec: no command given")
            command = args.cmd[0] if len(args.cmd) == 1 else args.cmd
            result = lab.exec(args.host, command, timeout=args.timeout)
            sys.stdout.write(result.output)
            return result.returncode
        elif args.command == "console":
            print(lab.console(args.host), end="")
            if args.follow:
                path = lab.layout.console_log(args.host)
                with open(path, errors="replace") as fh:
                    fh.seek(0, 2)
                    while True:
                        line = fh.readline()
                        if line:
                            print(line, end="", flush=True)
                        else:
                            time.sleep(0.3)
        elif args.command == "cut":
            lab.cut(args.host, args.nic)
        elif args.command == "mend":
            lab.mend(args.host, args.nic)
        elif args.command == "kill":
            lab.kill(args.host)
        elif args.command == "start":
            lab.start(args.host, wait=not args.no_wait)
        elif args.command == "partition":
            lab.partition(args.hosts)
        elif args.command == "heal":
            lab.heal()
        elif args.command == "salt":
            os.execvp("ip", lab.salt_command(*args.args))
    except LabError as exc:
        print(f"brine-lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
