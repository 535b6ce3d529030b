"""One-way dependencies of the daemon's core (doc/design.md §10).

Reads the symbols each object file of circusd/ uses and defines (`nm`, as
built in $CIRCUS_BUILD/obj) and checks who may call whom: process.c calls
nothing in watcher.c, arbiter.c, controller.c or the commands (exits go
through the callback its watcher registers); watcher.c calls nothing in
arbiter.c, controller.c or the commands (what it reports goes through the
callbacks its arbiter registers).
"""
import shutil
import subprocess

import pytest

from conftest import BUILD

OBJ = BUILD / "obj" / "circusd"


def module(path):
    """The module an object file belongs to: the commands are one."""
    name = path.stem
    return "cmd" if name == "cmd" or name.startswith("cmd-") else name


def symbols(path):
    """(defined, undefined) global symbols of one object file."""
    out = subprocess.run(["nm", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def calls():
    """{module: {module it calls}} over circusd's object files."""
    objs = sorted(OBJ.glob("*.o"))
    if shutil.which("nm") is None or not objs:
        pytest.skip("needs nm and the objects of a build")
    owner, uses = {}, {}
    for o in objs:
        defined, undefined = symbols(o)
        for s in defined:
            owner[s] = module(o)
        uses.setdefault(module(o), set()).update(undefined)
    return {m: {owner[s] for s in u if s in owner and owner[s] != m}
            for m, u in uses.items()}


def test_process_calls_no_owner():
    graph = calls()
    assert "process" in graph and "watcher" in graph
    assert graph["process"] & {"watcher", "arbiter", "controller",
                               "cmd"} == set()


def test_watcher_calls_no_owner():
    graph = calls()
    assert "process" in graph["watcher"]      # it does drive processes
    assert graph["watcher"] & {"arbiter", "controller", "cmd"} == set()
