#!/usr/bin/python3
"""Write a test image by hand: an OCI image layout or a `docker save` archive.

    mkimage.py SPEC.json OUT

SPEC: {"format": "oci" | "docker", "compress": "gzip" | "zstd" | "none",
       "index": true (oci: the manifest behind an image index with its platform),
       "name": "example.test/x:1" (optional), "config": {...the config's "config"...},
       "layers": [[ENTRY, ...], ...]}
ENTRY: {"name": "etc/x", "type": "file|dir|symlink|hardlink|chr|fifo",
        "data": "text", "src": "/host/file", "target": "...", "mode": 420,
        "uid": 0, "gid": 0, "xattrs": {"user.k": "v"}}
Names are written exactly as given (`../x`, `/abs` included): hostile
layers are the point.  OUT is a directory (oci: the layout; docker: the
archive's tree) unless it ends in .tar, then a tar of it.
"""
import hashlib, io, json, os, subprocess, sys, tarfile


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mode = e.get("mode", 0o644 if e.get("type", "file") == "file" else 0o755)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.mtime = 1700000000
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            kind = e.get("type", "file")
            data = None
            if kind == "file":
                data = open(e["src"], "rb").read() if "src" in e else e.get("data", "").encode()
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e["target"]
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, e["target"]
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, e.get("major", 1), e.get("minor", 3)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(raw, how):
    if how == "gzip":
        return subprocess.run(["gzip", "-n", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def put(root, rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def main():
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    tree = out[:-4] + ".d" if out.endswith(".tar") else out
    os.makedirs(tree, exist_ok=True)
    fmt, how = spec.get("format", "oci"), spec.get("compress", "gzip")
    raws = [layer_tar(l) for l in spec["layers"]]
    config = {"architecture": spec.get("arch", "amd64"), "os": "linux",
              "config": spec.get("config", {}),
              "rootfs": {"type": "layers", "diff_ids": [sha(r) for r in raws]}}
    cfg = json.dumps(config).encode()
    if fmt == "docker":
        names = []
        for r in raws:
            d = hashlib.sha256(r).hexdigest()
            put(tree, d + "/layer.tar", r)
            names.append(d + "/layer.tar")
        put(tree, hashlib.sha256(cfg).hexdigest() + ".json", cfg)
        man = [{"Config": hashlib.sha256(cfg).hexdigest() + ".json",
                "RepoTags": [spec["name"]] if spec.get("name") else [], "Layers": names}]
        put(tree, "manifest.json", json.dumps(man).encode())
    else:
        mt = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
              "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
              "none": "application/vnd.oci.image.layer.v1.tar"}[how]
        layers = []
        for r in raws:
            b = compress(r, how)
            put(tree, "blobs/sha256/" + hashlib.sha256(b).hexdigest(), b)
            layers.append({"mediaType": mt, "digest": sha(b), "size": len(b)})
        put(tree, "blobs/sha256/" + hashlib.sha256(cfg).hexdigest(), cfg)
        man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": sha(cfg), "size": len(cfg)},
                          "layers": layers}).encode()
        put(tree, "blobs/sha256/" + hashlib.sha256(man).hexdigest(), man)
        entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man),
                 "size": len(man)}
        if spec.get("index"):  # a nested image index naming this machine's platform
            entry["platform"] = {"architecture": spec.get("arch", "amd64"), "os": "linux"}
            idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": [entry]}).encode()
            put(tree, "blobs/sha256/" + hashlib.sha256(idx).hexdigest(), idx)
            entry = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(idx),
                     "size": len(idx)}
        if spec.get("name"):
            entry["annotations"] = {"org.opencontainers.image.ref.name": spec["name"]}
        put(tree, "index.json", json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode())
        put(tree, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        if spec.get("corrupt_layer"):
            p = os.path.join(tree, "blobs/sha256/" + layers[0]["digest"][7:])
            with open(p, "ab") as f:
                f.write(b"tampered")
    if out.endswith(".tar"):
        subprocess.run(["tar", "-C", tree, "-cf", out, "."], check=True)
    print(sha(cfg))


main()
