"""
Trim a distribution's packaged nova.conf (tens of thousands of lines of commented defaults) to
a committable fixture that still has the shape that matters: every section header in its
order, every active option with its help paragraph, and the [vnc] and [spice] sections whole
(spice has its own server_listen, which the console patch must leave alone).

Used once, at development time (tests never download):

    apt-get download nova-common          # Debian 12: 2:26.2.2-1~deb12u5
    dpkg-deb -x nova-common_*.deb x
    python3 trim_packaged_nova_conf.py x/usr/share/nova-common/nova.conf > debian-12-nova-common.conf
"""

import re
import sys

KEEP_WHOLE = ("vnc", "spice")


def trim(text):
    out, section, paragraph = [], None, []

    def flush():
        keep = section in KEEP_WHOLE or any(line.strip() and not line.startswith("#") for line in paragraph)
        if keep:
            out.extend(paragraph)
        paragraph.clear()

    for line in text.splitlines(keepends=True):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            flush()
            section = header.group(1)
            out.append(line)
        elif not line.strip():
            paragraph.append(line)
            flush()
        else:
            paragraph.append(line)
    flush()
    return "".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        sys.stdout.write(trim(fh.read()))
