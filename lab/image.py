"""The lab's shared base image: where it is cached and how it is (re)built."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from lab import kernel

REPO = Path(__file__).resolve().parents[1]
IMAGE_DIR = REPO / "lab" / "image"
CACHE_ROOT = Path(os.environ.get("BRINE_LAB_CACHE", "/var/cache/brine-lab"))


def recipe_hash():
    """Changes whenever anything that goes into the image changes: its files, the pinned Python
    versions (requirements.txt is the venv's constraints file) and the UML kernel's modules."""
    digest = hashlib.sha256()
    for path in sorted(p for p in IMAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(IMAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update((REPO / "requirements.txt").read_bytes())
    digest.update(kernel.SETTINGS["UML_VERSION"].encode() + kernel.release().encode())
    return digest.hexdigest()[:16]


def image_dir():
    return CACHE_ROOT / recipe_hash()


def base_image():
    return image_dir() / "base.img"


KEEP_IMAGES = 3


def prune_old_images(keep=KEEP_IMAGES, log=print):
    """Remove all but the ``keep`` most recently used images (other checkouts on this machine
    may be on other recipes, so the newest few stay)."""
    images = [d for d in CACHE_ROOT.iterdir() if (d / "base.img").exists()] if CACHE_ROOT.is_dir() else []
    images.sort(key=lambda d: (d / "last-used").stat().st_mtime if (d / "last-used").exists() else 0, reverse=True)
    for stale in images[keep:]:
        log(f"lab: removing the unused base image {stale}")
        subprocess.run(["rm", "-rf", str(stale)], check=False)


def mark_used(image):
    (Path(image).parent / "last-used").touch()


def ensure_base_image(log=print):
    """The path of the cached base image, built first when missing (one build at a time on
    this machine: a lock file serialises concurrent callers, the later ones reuse the result)."""
    target = image_dir()
    image = target / "base.img"
    if image.exists():
        return image
    import fcntl

    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image.exists():
            return image
        log_file = CACHE_ROOT / f"{target.name}.build.log"
        log(f"lab: building the base image {image} (log: {log_file}); this takes a few minutes, once")
        started = time.monotonic()
        with open(log_file, "w") as out:
            proc = subprocess.run(
                [str(IMAGE_DIR / "build.sh"), str(target), str(REPO / "requirements.txt"), str(REPO / ".venv" / "bin" / "pip"),
                 str(kernel.MODULES / kernel.release())],
                stdout=out, stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0 or not image.exists():
            tail = log_file.read_text(errors="replace").splitlines()[-25:]
            raise RuntimeError("base image build failed:\n" + "\n".join(tail))
        log(f"lab: base image built in {time.monotonic() - started:.0f} s")
        (target / "build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
        mark_used(image)
        prune_old_images(log=log)
    return image


if __name__ == "__main__":
    print(ensure_base_image())
    sys.exit(0)
