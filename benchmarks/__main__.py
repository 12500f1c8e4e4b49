"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn (``make bench``).

Arguments after ``--only NAME`` restrict the run to one module (e.g. ``--only features``); other
arguments are passed on to each ``main(argv)`` that takes them (``main()`` is called bare
otherwise).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i : i + 2]
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    for name in names:
        if only is not None and name != f"bench_{only}":
            continue
        print(f"== {name} ==", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        takes_args = bool(inspect.signature(module.main).parameters)
        module.main(args) if takes_args else module.main()


if __name__ == "__main__":
    main()
