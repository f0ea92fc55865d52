"""Fetch the pinned front-end packages from the npm registry into the app's static files.

Needs only Python (no Node.js): downloads each package's tarball, checks it against the pinned
integrity hash, and copies the listed files to ``src/vnemis/static/vendor/``. Already-present
files with the right version are left alone. The registry can be changed with
``NPM_CONFIG_REGISTRY`` (an intranet mirror).
"""

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "scripts" / "assets.lock.json"
VENDOR = ROOT / "src" / "vnemis" / "static" / "vendor"


def tarball_url(registry: str, name: str, version: str) -> str:
    basename = name.split("/")[-1]
    return f"{registry.rstrip('/')}/{name}/-/{basename}-{version}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"integrity check failed for a downloaded package ({algo})")


def main() -> int:
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org")
    VENDOR.mkdir(parents=True, exist_ok=True)
    stamp_path = VENDOR / "versions.json"
    stamps = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    for pkg in json.loads(LOCK.read_text())["packages"]:
        name, version = pkg["name"], pkg["version"]
        targets = [VENDOR / dest for dest in pkg["files"].values()]
        if stamps.get(name) == version and all(t.exists() for t in targets):
            continue
        url = tarball_url(registry, name, version)
        print(f"fetching {name}@{version}")
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - fixed registry URL
            data = response.read()
        check_integrity(data, pkg["integrity"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for source, dest in pkg["files"].items():
                member = tar.extractfile(f"package/{source}")
                if member is None:
                    raise SystemExit(f"{name}@{version} has no {source}")
                (VENDOR / dest).parent.mkdir(parents=True, exist_ok=True)
                (VENDOR / dest).write_bytes(member.read())
        stamps[name] = version
    stamp_path.write_text(json.dumps(stamps, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
