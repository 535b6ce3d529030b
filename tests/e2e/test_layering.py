"""One-way dependencies of the daemon's core (doc/design.md §10).

Reads the symbols each object file of circusd/ uses and defines (`nm`, as
built in $CIRCUS_BUILD/obj) and checks who may call whom: process.c calls
nothing in watcher.c, arbiter.c, controller.c or the commands (exits go
through the callback its watcher registers); watcher.c calls nothing in
arbiter.c, controller.c or the commands (what it reports goes through the
callbacks its arbiter registers); and no module of the core (arbiter,
watcher, process, controller, events, the commands) is on a cycle of the
whole call graph of circusd/: the arbiter reaches the commands only
through the struct arbiter_commands main() gives it, the controller
likewise. The same modules keep their state in the objects they are
given (the arbiter, a watcher, a process, a stream): no writable global
data but a scratch buffer. The headers of circusd/ and lib/ include each
other without a cycle, and lib/ never includes circusd/'s.
"""
import shutil
import subprocess

import pytest

from conftest import BUILD, REPO

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


CORE = {"arbiter", "watcher", "process", "controller", "events", "cmd",
        "reload"}


def cycles(graph):
    """The strongly connected components of more than one module
    (Tarjan's algorithm), each as a sorted list."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_finds_a_cycle():
    # the check itself: a -> b -> c -> a is one component, d is on none
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) \
        == [["a", "b", "c"]]


def test_core_is_on_no_cycle():
    graph = calls()
    assert graph["cmd"] >= {"arbiter", "controller", "watcher"}
    assert "controller" in graph["arbiter"]
    bad = [c for c in cycles(graph) if CORE & set(c)]
    assert bad == [], bad


# Writable data the core may hold: scratch of one drain of the ROUTER (its
# batch of replies, empty again when the drain ends) and of one pipe read.
SCRATCH = {"controller_batch", "controller_nbatch", "controller_batching",
           "outpipe_scratch"}


def writable(path):
    """Names of the data objects of one object file in a writable section
    (.data, .bss and their thread-local forms); compiler-made names out."""
    out = subprocess.run(["objdump", "-t", str(path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if " O " not in line or len(parts) < 5:
            continue
        section, name = parts[-3], parts[-1]
        if section.split(".")[1:2] in (["data"], ["bss"], ["tdata"],
                                       ["tbss"]) \
                and not section.startswith(".data.rel.ro") \
                and not name.startswith("_"):
            names.add(name)
    return names


def test_core_holds_no_writable_globals():
    if shutil.which("objdump") is None or not list(OBJ.glob("*.o")):
        pytest.skip("needs objdump and the objects of a build")
    found = {}
    for o in sorted(OBJ.glob("*.o")):
        if module(o) in CORE or o.stem == "stream":
            extra = writable(o) - SCRATCH
            if extra:
                found[o.stem] = sorted(extra)
    assert found == {}, found


def includes():
    """{header: {header it includes}} over circusd/ and lib/ ("..." only),
    each named by its folder and file."""
    found = {}
    for d in ("circusd", "lib"):
        for h in sorted((REPO / d).glob("*.h")):
            deps = set()
            for line in h.read_text().splitlines():
                parts = line.split('"')
                if line.startswith("#include") and len(parts) == 3:
                    name = parts[1]
                    where = d if (REPO / d / name).exists() else "lib"
                    deps.add(where + "/" + name)
            found[d + "/" + h.name] = deps
    return found


def test_headers_include_no_cycle():
    graph = includes()
    assert "circusd/config.h" in graph["circusd/circusd.h"]
    assert cycles(graph) == []
    for h, deps in graph.items():
        if h.startswith("lib/"):
            assert not any(x.startswith("circusd/") for x in deps), h


def test_events_owns_the_pub_socket():
    """events.c binds, hands over and closes the PUB socket (its HWM is
    set there alone); the controller has only the ROUTER; both bind
    through endpoint.c."""
    graph = calls()
    _, ev = symbols(OBJ / "events.o")
    _, ctl = symbols(OBJ / "controller.o")
    assert "zsock_set_sndhwm" in ev
    assert "zsock_set_sndhwm" not in ctl
    assert "endpoint" in graph["events"] and "endpoint" in graph["controller"]
    assert "events" in graph["arbiter"]
