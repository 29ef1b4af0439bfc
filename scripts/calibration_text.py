"""English calibration and evaluation text from the Python standard library.

Writes one English sentence per line, built from a source that every fresh
machine has without a download: the docstrings of the standard library's
modules (``sys.stdlib_module_names``, plus the submodules of its packages)
and of their public classes, functions and methods. Docstrings are split
into paragraphs and sentences, whitespace is collapsed, and a sentence is
kept when it has 8 to 60 words and reads as prose (ASCII, starts with a
capital letter, ends with ``.``, ``!`` or ``?``, mostly letters, no
``>>>``, reST roles or list items). Duplicates are dropped and the rest
ordered by the sha256 of the sentence: a shuffle that is the same on every
run, whatever ``PYTHONHASHSEED`` or the import order; the text depends on the
Python version and on which modules import on the platform (the script
runs itself again as ``python -I -S``, so installed packages play no part).

    python scripts/calibration_text.py calibration.txt [--lines 1024]

The first 256 lines are calibration text for activation statistics
(``scripts/activation_stats.py --samples 256``), the next 256 the held-out
evaluation text (``scripts/eval_embeddings.py --skip 256 --samples 256``).
Needs only python3's stdlib.
"""

import argparse
import contextlib
import hashlib
import importlib
import inspect
import io
import pkgutil
import re
import subprocess
import sys
import warnings

# Modules that print, open windows or a browser, touch the terminal, or are
# the regression tests rather than the library.
SKIP = {
    "this", "antigravity", "idlelib", "tkinter", "turtle", "turtledemo",
    "readline", "test", "lib2to3", "ensurepip", "pydoc_data",
}

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# reST roles (:attr:), list items, "Args:"-style headings: markup, not prose.
MARKUP = re.compile(r":\w+:|\s-\s|^\w+:")


@contextlib.contextmanager
def quiet():
    """Swallow what imports print and warn."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


def public(name):
    """Whether a dotted module name is public library code (no ``_x``, tests or SKIP part)."""
    return not any(p.startswith("_") or p in SKIP or p == "tests" for p in name.split("."))


def module_names():
    """Public stdlib module names in sorted order, packages' submodules included."""
    names = set()
    for top in sorted(sys.stdlib_module_names):
        if not public(top):
            continue
        names.add(top)
        path = getattr(load(top), "__path__", None)
        if path:
            with quiet():
                names.update(i.name for i in pkgutil.walk_packages(path, top + ".", onerror=lambda _: None) if public(i.name))
    return sorted(names)


def load(name):
    """The module, imported quietly; None if the import fails."""
    try:
        with quiet():
            return importlib.import_module(name)
    except (Exception, SystemExit):
        return None


def docstrings(mod):
    """The docstrings of a module and of its own public classes, functions and methods."""
    yield mod.__doc__
    for name in sorted(vars(mod)):
        obj = vars(mod)[name]
        if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
            continue
        if inspect.isclass(obj):
            yield obj.__doc__
            for attr in sorted(vars(obj)):
                if not attr.startswith("_") and callable(vars(obj)[attr]):
                    yield getattr(vars(obj)[attr], "__doc__", None)
        elif inspect.isroutine(obj):
            yield obj.__doc__


def sentences(doc):
    """The prose sentences of one docstring."""
    if not isinstance(doc, str):
        return
    for para in re.split(r"\n\s*\n", inspect.cleandoc(doc)):
        for s in SENTENCE_END.split(" ".join(para.split())):
            if prose(s):
                yield s


def prose(s):
    """Whether ``s`` looks like an English sentence of 8 to 60 words."""
    if not 8 <= len(s.split()) <= 60 or not s.isascii() or ">>>" in s or MARKUP.search(s):
        return False
    if not s[0].isupper() or s[-1] not in ".!?":
        return False
    chars = s.replace(" ", "")
    return sum(c.isalpha() for c in chars) >= 0.85 * len(chars)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", help="the text file to write, one sentence per line")
    ap.add_argument("--lines", type=int, default=1024, help="sentences to write (default 1024)")
    args = ap.parse_args(argv)
    if not (sys.flags.isolated and sys.flags.no_site):
        # Again without site-packages, so that nothing installed (setuptools'
        # distutils, a backport) shadows a stdlib module: the same text from
        # this interpreter, in a venv or not.
        argv = sys.argv[1:] if argv is None else argv
        sys.exit(subprocess.run([sys.executable, "-I", "-S", __file__, *argv]).returncode)
    found = set()
    for name in module_names():
        mod = load(name)
        if mod is not None:
            with quiet():
                for doc in docstrings(mod):
                    found.update(sentences(doc))
    lines = sorted(found, key=lambda s: hashlib.sha256(s.encode()).hexdigest())[: args.lines]
    with open(args.output, "w", encoding="utf-8") as f:
        f.writelines(s + "\n" for s in lines)
    print(f"{args.output}: {len(lines)} sentences (of {len(found)})")
    if len(lines) < args.lines:
        print(f"warning: only {len(lines)} sentences, {args.lines} asked", file=sys.stderr)


if __name__ == "__main__":
    main()
