"""A PEP 517 build backend for the islet client, standard library only.

pip builds a project in an isolated environment into which it installs the
backend named in pyproject.toml; setuptools would have to come from an
index, and PyPI may not be reachable.  This backend needs nothing: it zips
the `islet` package into a pure-Python wheel (and a tarball for sdists).
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "islet"


def _project():
    """name, version, description, requires-python from pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("[project]", 1)[1].split("\n[", 1)[0]
    fields = dict(re.findall(r'^([a-z-]+)\s*=\s*"([^"]*)"', section, re.M))
    return fields


def _metadata():
    p = _project()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + p["name"],
        "Version: " + p["version"],
        "Summary: " + p.get("description", ""),
        "License: Apache-2.0",
        "Requires-Python: " + p.get("requires-python", ">=3.8"),
    ]
    readme = os.path.join(ROOT, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _sources():
    """(path in the archive, path on disk) of every module, sorted."""
    out = []
    top = os.path.join(ROOT, PACKAGE)
    for d, dirs, files in os.walk(top):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "py.typed":
                full = os.path.join(d, name)
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    return out


def _dist_info():
    p = _project()
    return "%s-%s.dist-info" % (p["name"], p["version"]), "%s-%s" % (p["name"], p["version"])


class _Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []

    def add(self, arcname, data):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        self.record.append("%s,sha256=%s,%d" % (arcname, digest.decode(), len(data)))
        self.zip.writestr(arcname, data)

    def close(self, dist_info):
        self.record.append(dist_info + "/RECORD,,")
        self.zip.writestr(dist_info + "/RECORD", "\n".join(self.record) + "\n")
        self.zip.close()


def _write_wheel(wheel_directory, files):
    dist_info, stem = _dist_info()
    name = stem + "-py3-none-any.whl"
    w = _Wheel(os.path.join(wheel_directory, name))
    for arcname, data in files:
        w.add(arcname, data)
    w.add(dist_info + "/METADATA", _metadata().encode())
    w.add(dist_info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: islet_build\n"
          b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    w.close(dist_info)
    return name


# ---- the PEP 517 / PEP 660 hooks ----

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for arcname, full in _sources():
        with open(full, "rb") as f:
            files.append((arcname, f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # a .pth line puts the source tree on sys.path
    return _write_wheel(wheel_directory, [("islet_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    _, stem = _dist_info()
    name = stem + ".tar.gz"
    paths = ["pyproject.toml", "README.md", "build_backend/islet_build.py"]
    paths += [arc for arc, _ in _sources()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for rel in paths:
            full = os.path.join(ROOT, rel)
            if os.path.exists(full):
                tar.add(full, arcname=stem + "/" + rel)
        pkg_info = _metadata().encode()
        info = tarfile.TarInfo(stem + "/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return name
