#!/usr/bin/env python3
"""Builds and runs every ```rust block of README.md the way a new user meets it.

Each block becomes one binary of a throwaway crate outside the workspace that depends on our two
crates by path with default features only, so no dev-dependency of ours can lend a feature the
published crates lack (which is how `mimalloc::allocator_api2::vec` once passed our doctests and
failed for users). A block without `fn main` is wrapped in one, as rustdoc does.

Every fence must name its language: an unlabelled block would be neither checked nor marked as
"not Rust". Usage: readme-blocks.py WORKSPACE_ROOT SCRATCH_DIR [cargo flags...]
"""
import os
import re
import shutil
import subprocess
import sys

root = os.path.abspath(sys.argv[1])
scratch = os.path.abspath(sys.argv[2])
cargo_flags = sys.argv[3:]

blocks = []
lang = None
start = 0
body = []
with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        fence = re.match(r"^\s*```(.*)$", line)
        if fence and lang is None:
            lang = fence.group(1).strip()
            if not lang:
                sys.exit(f"README.md:{n}: code fence without a language (use rust, toml, sh or text)")
            start, body = n, []
        elif fence:
            if lang.split(",")[0] == "rust" and "ignore" not in lang:
                blocks.append((start, "".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
if lang is not None:
    sys.exit(f"README.md:{start}: code fence never closed")
if not blocks:
    sys.exit("README.md has no rust blocks: is this the right file?")

shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(os.path.join(scratch, "src", "bin"))
bins = []
for start, code in blocks:
    name = f"readme_line_{start}"
    if not re.search(r"\bfn\s+main\s*\(", code):
        code = "fn main() {\n" + code + "}\n"
    with open(os.path.join(scratch, "src", "bin", name + ".rs"), "w", encoding="utf-8") as f:
        f.write(f"// README.md line {start}\n#![allow(unused)]\n" + code)
    bins.append(name)

with open(os.path.join(scratch, "Cargo.toml"), "w", encoding="utf-8") as f:
    f.write(f"""[package]
name = "readme-blocks"
version = "0.0.0"
edition = "2021"
publish = false

# Its own workspace: nothing of ours (dev-dependencies, features) leaks in.
[workspace]

[dependencies]
mimalloc = {{ path = "{root}/mimalloc" }}
mimalloc-sys = {{ path = "{root}/mimalloc-sys" }}
""")
# The workspace's lock file pins the same dependency versions our CI already fetched.
shutil.copy(os.path.join(root, "Cargo.lock"), scratch)

def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=scratch, check=True)

run(["cargo", "build", "--bins"] + cargo_flags)
for name in bins:
    run(["cargo", "run", "-q", "--bin", name] + cargo_flags)
print(f"README.md: {len(bins)} rust blocks built and run")
