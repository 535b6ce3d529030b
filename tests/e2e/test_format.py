# SPDX-License-Identifier: Apache-2.0
"""`make format` (README): clang-format with the repository's .clang-format
rewrites the files it is given in place, in the code's layout (tabs, the
return type of a definition on its own line, continuations indented by
4). Files already in that layout come back unchanged. Works on copies: the
tree itself is never rewritten here."""
import shutil
import subprocess

import pytest

from conftest import REPO

# files whose layout the style reproduces exactly
KEPT = ["lib/xmalloc.c", "circusd/cmd-numwatchers.c", "plugins/statsd.c"]

MESSY = """\
#include <stdio.h>
static int add(int a,int b){ if(a>b) return a+b; return b;}
"""

TIDY = """\
#include <stdio.h>
static int
add(int a, int b)
{
\tif (a > b)
\t\treturn a + b;
\treturn b;
}
"""


def make_format(files):
    return subprocess.run(["make", "-s", "-C", str(REPO), "format",
                           "FORMAT_FILES=" + " ".join(str(f) for f in files)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def clang_format():
    if shutil.which("clang-format") is None:
        pytest.skip("needs clang-format (make deps)")


def test_format_keeps_files_in_the_layout(clang_format, tmp_path):
    copies = []
    for name in KEPT:
        dst = tmp_path / name.replace("/", "_")
        shutil.copyfile(REPO / name, dst)
        copies.append(dst)
    r = make_format(copies)
    assert r.returncode == 0, r.stderr
    for name, dst in zip(KEPT, copies):
        assert dst.read_text() == (REPO / name).read_text(), name


def test_format_rewrites_a_messy_file(clang_format, tmp_path):
    f = tmp_path / "messy.c"
    f.write_text(MESSY)
    r = make_format([f])
    assert r.returncode == 0, r.stderr
    assert f.read_text() == TIDY
