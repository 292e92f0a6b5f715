// `verify.py`, shipped inside every bundle: the README's procedure as a Python 3 program using
// only the standard library, so an examiner can check the bundle without Assay. It shares no
// code with the TypeScript verifier; it follows RFC 9162 §2.1 and C2SP signed-note directly.

/** The text of `verify.py` (Python 3.8+, standard library only). */
export const VERIFY_PY = String.raw`#!/usr/bin/env python3
"""Checks an extracted Assay audit bundle with the Python standard library only.

Usage: python3 verify.py [BUNDLE_DIR] [--public-key VKEY]

Follows README.md step by step: file digests, the note verifier key, the checkpoint
signature, every leaf against the signed root (RFC 9162 section 2.1), each inclusion proof
(section 2.1.3.2) and the consistency proof (section 2.1.4.2). Ed25519 is not in the
standard library: the signatures are checked with PyNaCl or the cryptography package when
installed, otherwise by running 'openssl pkeyutl -verify -rawin' (OpenSSL 3) on the exact
signed bytes, which are written to signature-check/ for that.

Exit status 0 when every check passed, 1 when one failed, 2 when every other check passed
but a signature could not be checked here (no Ed25519 verifier found): then it is no pass
until the printed openssl commands say "Signature Verified Successfully".
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def leaf_hash(leaf):  # RFC 9162 2.1.1: HASH(0x00 || leaf)
    return sha256(b"\x00", leaf)


def node_hash(left, right):  # RFC 9162 2.1.1: HASH(0x01 || left || right)
    return sha256(b"\x01", left, right)


def b64(text):
    return base64.b64decode(text, validate=True)


def verify_inclusion(index, size, leaf, path, root):  # RFC 9162 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):  # RFC 9162 2.1.4.2
    if first == second:
        return not path and first_hash == second_hash
    if first == 0 or first > second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


class Tiles:
    """Tree nodes pushed left to right: complete subtrees combine like a binary counter."""

    def __init__(self):
        self.size = 0
        self.closed = False  # an imperfect node (on the tree's right edge) comes last
        self.stack = []  # (width, hash), widest first

    def push(self, width, h):
        span = 1
        while span < width:
            span *= 2
        if self.closed or width < 1 or self.size % span:
            fail("[%d, %d) is not a node of the tree at this place" % (self.size, self.size + width))
        self.closed = span != width
        self.size += width
        while self.stack and self.stack[-1][0] == width:
            h = node_hash(self.stack.pop()[1], h)
            width *= 2
        self.stack.append((width, h))

    def root(self):
        r = self.stack[-1][1]
        for _, h in reversed(self.stack[:-1]):
            r = node_hash(h, r)
        return r


def parse_vkey(vkey):
    name, key_id, key = vkey.split("+", 2)
    key = b64(key)
    if len(key) != 33 or key[0] != 1:
        fail("the verifier key is not an Ed25519 note key")
    if sha256(name.encode() + b"\n" + key)[:4].hex() != key_id.lower():
        fail("the verifier key's id does not match its name and key")
    return name, bytes.fromhex(key_id), key[1:]


def open_note(note, name, key_id):
    """Returns (signed text bytes, 64-byte signature) of the signature line made by the key."""
    cut = note.rfind(b"\n\n")
    if cut < 0:
        fail("the note has no blank line before its signatures")
    text = note[: cut + 1]
    for line in note[cut + 2 :].decode("utf-8").split("\n"):
        prefix = "\u2014 " + name + " "
        if line.startswith(prefix):
            raw = b64(line[len(prefix) :])
            if raw[:4] == key_id and len(raw) == 68:
                return text, raw[4:]
    fail("no signature line from key %s+%s" % (name, key_id.hex()))


def ed25519_library(text, signature, public_key):
    """True or False from PyNaCl or cryptography; None when neither is installed."""
    try:
        import nacl.exceptions
        import nacl.signing

        try:
            nacl.signing.VerifyKey(public_key).verify(text, signature)
            return True, "PyNaCl"
        except nacl.exceptions.BadSignatureError:
            return False, "PyNaCl"
    except ImportError:
        pass
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, text)
            return True, "cryptography"
        except InvalidSignature:
            return False, "cryptography"
    except ImportError:
        pass
    return None, None


def check_signature(label, text, signature, public_key, out_dir):
    """Returns True when the signature verified here, False when left to the examiner; a bad one fails."""
    verdict, tool = ed25519_library(text, signature, public_key)
    if verdict is None:
        os.makedirs(out_dir, exist_ok=True)
        der = bytes.fromhex("302a300506032b6570032100") + public_key  # SubjectPublicKeyInfo for Ed25519
        files = []
        for name, data in (("public-key.der", der), (label + ".text", text), (label + ".sig", signature)):
            files.append(os.path.join(out_dir, name))
            with open(files[-1], "wb") as f:
                f.write(data)
        command = ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", files[0], "-rawin", "-in", files[1], "-sigfile", files[2]]
        tool, said = "OpenSSL", ""
        if shutil.which("openssl"):
            run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            said = run.stdout.decode("utf-8", "replace")
            # OpenSSL 3 prints one of these two; anything else (1.1.1 knows no -rawin) decides nothing.
            if "Signature Verified Successfully" in said:
                verdict = True
            elif "Signature Verification Failure" in said:
                verdict = False
        if verdict is None:
            why = said.strip().split("\n")[0] if said else "openssl is not on the PATH"
            print("todo %s: no Ed25519 verifier here (PyNaCl, cryptography or OpenSSL 3: %s); check the signature with:" % (label, why))
            print("       " + " ".join(command))
            return False
    if not verdict:
        fail("%s: the Ed25519 signature does not verify (checked with %s)" % (label, tool))
    print("ok   %s: Ed25519 signature verified with %s" % (label, tool))
    return True


def parse_checkpoint(text, origin):
    lines = text.decode("utf-8").split("\n")
    if len(lines) < 4 or lines[0] != origin:
        fail("the checkpoint's origin line is not %r" % origin)
    return int(lines[1]), b64(lines[2])


def main():
    args = sys.argv[1:]
    expected_key = None
    if "--public-key" in args:
        i = args.index("--public-key")
        expected_key = args[i + 1].strip()
        del args[i : i + 2]
    root_dir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    path = lambda name: os.path.join(root_dir, name)
    out_dir = path("signature-check")

    # Step 1: every member's SHA-256 matches manifest.json.
    with open(path("manifest.json"), "rb") as f:
        manifest = json.load(f)
    if manifest.get("format") != "assay-audit-bundle/v1":
        fail("manifest.json is not an assay-audit-bundle/v1 manifest")
    for name, digest in sorted(manifest["files"].items()):
        h = hashlib.sha256()
        with open(path(name), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != digest["sha256"]:
            fail("%s does not match its SHA-256 in manifest.json" % name)
    print("ok   file digests (%d files)" % len(manifest["files"]))

    # Step 2: the note verifier key.
    with open(path("public-key.txt")) as f:
        vkey = f.read().strip()
    if expected_key is not None and expected_key != vkey:
        hint = ""
        if vkey.split("+")[0] == expected_key.split("+")[0]:  # the same log: its key may have been rotated since
            hint = ("; both keys are of the log %s: if its key was rotated since the bundle was signed, look for the bundle's"
                    " key in GET /api/v1/audit/public-keys (retired keys included) and, if the operator lists it, check"
                    " the bundle with that key" % vkey.split("+")[0])
        fail("public-key.txt is %s, not the key you trust (%s)%s" % (vkey, expected_key, hint))
    name, key_id, public_key = parse_vkey(vkey)
    print("ok   verifier key %s+%s%s" % (name, key_id.hex(), "" if expected_key else " (compare it with the key you obtained from the log operator)"))

    # Step 3: the checkpoint (the anchor) is signed by that key.
    with open(path("checkpoint.txt"), "rb") as f:
        text, signature = open_note(f.read(), name, key_id)
    size, root = parse_checkpoint(text, manifest["origin"])
    unverified = [] if check_signature("checkpoint", text, signature, public_key, out_dir) else ["checkpoint.txt"]
    print("ok   checkpoint: origin %s, size %d, root %s" % (manifest["origin"], size, root.hex()))

    # Steps 4 and 5: the leaves, with the range proof, rebuild the signed root; each inclusion proof verifies.
    with open(path("range-proof.json")) as f:
        rp = json.load(f)
    start, end = rp["start"], rp["end"]
    if rp["size"] != size or not 0 <= start < end <= size:
        fail("range-proof.json does not describe a span of the checkpoint's tree")
    tiles = Tiles()
    for t in rp["left"]:
        if t["start"] != tiles.size:
            fail("range-proof.json: left subtrees are not contiguous")
        tiles.push(t["end"] - t["start"], b64(t["hash"]))
    if tiles.size != start:
        fail("range-proof.json: left subtrees do not end at the span start")
    with open(path("leaves.jsonl"), "rb") as leaves, open(path("inclusion-proofs.jsonl"), "rb") as proofs:
        for index in range(start, end):
            line = leaves.readline()
            if not line.endswith(b"\n"):
                fail("leaves.jsonl ends before leaf %d" % index)
            leaf = line[:-1]
            entry = json.loads(leaf)
            if not isinstance(entry, dict) or entry.get("index") != index:
                fail("line %d of leaves.jsonl is not leaf %d" % (index - start + 1, index))
            h = leaf_hash(leaf)
            tiles.push(1, h)
            proof = json.loads(proofs.readline())
            if proof["index"] != index or not verify_inclusion(index, size, h, [b64(p) for p in proof["proof"]], root):
                fail("the inclusion proof of leaf %d does not verify" % index)
        if leaves.read(1):
            fail("leaves.jsonl has more lines than the span [%d, %d)" % (start, end))
    for t in rp["right"]:
        if t["start"] != tiles.size:
            fail("range-proof.json: right subtrees are not contiguous")
        tiles.push(t["end"] - t["start"], b64(t["hash"]))
    if tiles.size != size or tiles.root() != root:
        fail("the leaves and range-proof.json do not rebuild the checkpoint's root hash")
    print("ok   leaves %d..%d (%d) rebuild the signed root; %d inclusion proofs verify" % (start, end - 1, end - start, end - start))

    # Step 6 (when present): the earliest checkpoint covering the span is a prefix of the anchor.
    if os.path.exists(path("earliest-checkpoint.txt")):
        with open(path("earliest-checkpoint.txt"), "rb") as f:
            early_text, early_sig = open_note(f.read(), name, key_id)
        early_size, early_root = parse_checkpoint(early_text, manifest["origin"])
        if not check_signature("earliest-checkpoint", early_text, early_sig, public_key, out_dir):
            unverified.append("earliest-checkpoint.txt")
        with open(path("consistency-proof.json")) as f:
            cp = json.load(f)
        if cp["from"] != early_size or cp["to"] != size or early_size < end:
            fail("consistency-proof.json does not join the earliest checkpoint to the anchor")
        if not verify_consistency(early_size, size, early_root, root, [b64(p) for p in cp["proof"]]):
            fail("the consistency proof does not verify")
        print("ok   earliest checkpoint (size %d) is consistent with the anchor" % early_size)

    if unverified:
        print("INCOMPLETE: every other check passed, but the signature of %s is not verified: until the openssl"
              " command above says 'Signature Verified Successfully', nothing in this bundle is proven" % " and ".join(unverified))
        sys.exit(2)
    print("PASS")


try:
    main()
except (OSError, ValueError, KeyError, TypeError, IndexError) as e:  # a missing file, bad JSON or base64
    fail("%s: %s" % (type(e).__name__, e))
`;
