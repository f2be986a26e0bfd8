#!/usr/bin/env bash
# Installs the lab's user-mode-linux kernel (lab/uml-kernel.conf) into INSTALL_ROOT/UML_VERSION:
# the user-mode-linux package of UML_SUITE and libc6 of LIBC_SUITE, fetched with apt-get from the
# host's own Debian mirror through a private apt configuration, unpacked (never installed: the
# system's packages and glibc stay as they are), and linux.uml's ELF interpreter and rpath pointed
# at the unpacked glibc. Does nothing when that version is installed.
#
#   scripts/uml-kernel.sh          install if missing
#   scripts/uml-kernel.sh --path   print the kernel's path (after installing if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../lab/uml-kernel.conf
. lab/uml-kernel.conf
dest=$INSTALL_ROOT/$UML_VERSION
kernel=$dest/root/usr/bin/linux.uml
if [[ -x $kernel && -e $dest/.complete ]]; then
  [[ ${1:-} == --path ]] && echo "$kernel"
  exit 0
fi

# The mirror comes from the host's apt configuration (never hard-coded here).
mirror=
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -e $f ]] || continue
  uri=$(awk '/^URIs:/ {print $2; exit}' "$f"); suites=$(awk '/^Suites:/ {$1=""; print; exit}' "$f")
  [[ -n $uri && " $suites " == *" bookworm "* ]] && { mirror=$uri; break; }
done
[[ -n $mirror || ! -e /etc/apt/sources.list ]] ||
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
[[ -n $mirror ]] || { echo "uml-kernel: no bookworm mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2; exit 1; }

apt_dir=$(mktemp -d /tmp/brine-uml-apt.XXXXXX)
work=$dest.tmp-$$
cleanup() { rm -rf "$apt_dir" "$work"; }
trap cleanup EXIT
mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc/parts,etc/prefs}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$UML_SUITE" "$keyring" "$mirror" "$LIBC_SUITE" \
  | sort -u > "$apt_dir/etc/sources.list"
apt_opts=(
  -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists" -o Dir::State::status=/dev/null
  -o "Dir::Cache=$apt_dir" -o "Dir::Cache::Archives=$apt_dir/archives"
  -o "Dir::Etc::SourceList=$apt_dir/etc/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/etc/parts"
  -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$apt_dir/etc/prefs"
  -o APT::Sandbox::User=root
)
echo "uml-kernel: looking up $UML_PACKAGE $UML_VERSION ($UML_SUITE) and libc6 $LIBC_UPSTREAM ($LIBC_SUITE) at $mirror"
apt-get "${apt_opts[@]}" -qq update >/dev/null

# madison lines: "PKG | VERSION | MIRROR SUITE/main amd64 Packages"
served() { apt-cache "${apt_opts[@]}" madison "$1" | awk -F' *[|] *' -v s="$2" '$3 ~ (" " s "/") {print $2}'; }
uml_served=$(served "$UML_PACKAGE" "$UML_SUITE")
if ! grep -qxF "$UML_VERSION" <<<"$uml_served"; then
  echo "uml-kernel: Debian $UML_SUITE does not serve $UML_PACKAGE $UML_VERSION (lab/uml-kernel.conf);" \
       "it serves: ${uml_served:-nothing}. Try that version in lab/uml-kernel.conf (and re-run the lab tiers)." >&2
  exit 1
fi
libc_served=$(served libc6 "$LIBC_SUITE")
libc_version=$(grep -E "^${LIBC_UPSTREAM//./\\.}-" <<<"$libc_served" | head -1 || true)
if [[ -z $libc_version ]]; then
  echo "uml-kernel: Debian $LIBC_SUITE does not serve libc6 $LIBC_UPSTREAM-* (lab/uml-kernel.conf);" \
       "it serves: ${libc_served:-nothing}." >&2
  exit 1
fi
(cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" -qq download "$UML_PACKAGE=$UML_VERSION" "libc6=$libc_version" >/dev/null)

mkdir -p "$work/root"
for deb in "$apt_dir"/archives/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
libdir=$dest/root/usr/lib/x86_64-linux-gnu
patchelf --set-interpreter "$libdir/ld-linux-x86-64.so.2" --set-rpath "$libdir" "$work/root/usr/bin/linux.uml"
modules=("$work"/root/usr/lib/uml/modules/*)
[[ ${#modules[@]} == 1 && -d ${modules[0]} ]] || { echo "uml-kernel: expected one module tree in the package, found: ${modules[*]}" >&2; exit 1; }
printf 'UML_VERSION=%s\nLIBC_VERSION=%s\nKERNEL_RELEASE=%s\n' "$UML_VERSION" "$libc_version" "${modules[0]##*/}" > "$work/versions"
rm -rf "$dest"
mkdir -p "$INSTALL_ROOT"
mv "$work" "$dest"
touch "$dest/.complete"
echo "uml-kernel: installed $UML_PACKAGE $UML_VERSION (kernel ${modules[0]##*/}) with libc6 $libc_version in $dest"
[[ ${1:-} == --path ]] && echo "$kernel"
exit 0
