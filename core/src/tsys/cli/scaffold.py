"""``tsys plugin new KIND NAME``: write a ready plugin package (the templates are here).

A package has ``pyproject.toml`` with the ``tsys`` entry point, the hook implementation, a
minimal working example of its kind, a README, a CHANGELOG and tests that run the matching
contract suite from :mod:`tsys.testing`. Its tests pass as generated once it is installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import attrs

from tsys.cli.scaffold_templates import (
    _CHANGELOG,
    _EXAMPLES,
    _INIT,
    _PYPROJECT,
    _README,
    _TESTS,
)
from tsys.errors import ConfigError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@attrs.frozen
class Kind:
    #: The word in the distribution name: tsys-<slug>-<name>.
    slug: str
    hook: str
    summary: str


KINDS: dict[str, Kind] = {
    "bucket": Kind("bucket", "register_buckets", "a trading bucket (signals and exits)"),
    "data-source": Kind("data", "register_data_sources", "a data source (daily bars)"),
    "broker": Kind("broker", "register_brokers", "a broker (paper orders and positions)"),
    "notifier": Kind("notifier", "register_notifiers", "a notifier (the daily newsletter)"),
}
#: What ``KIND`` may also be spelled as.
ALIASES = {"source": "data-source", "data": "data-source", "datasource": "data-source"}


@attrs.frozen
class Package:
    kind: str
    name: str
    root: Path
    files: dict[str, str]

    @property
    def dist(self) -> str:
        return f"tsys-{KINDS[self.kind].slug}-{self.name.replace('_', '-')}"


def kind_of(raw: str) -> str:
    kind = ALIASES.get(raw.lower(), raw.lower())
    if kind not in KINDS:
        raise ConfigError(
            f"unknown plugin kind {raw!r}", hint=f"one of: {', '.join(KINDS)} (or source)"
        )
    return kind


def render(kind: str, name: str, parent: Path) -> Package:
    """The package's files (relative path -> text), not written yet."""
    kind = kind_of(kind)
    if not NAME_RE.match(name):
        raise ConfigError(
            f"plugin name {name!r} is not a lower-case identifier",
            hint="letters, digits and _ (starting with a letter), e.g. momentum or my_feed",
        )
    k = KINDS[kind]
    dist = f"tsys-{k.slug}-{name.replace('_', '-')}"
    module = dist.replace("-", "_")
    from tsys import __version__

    camel = "".join(p.capitalize() for p in name.split("_"))
    subs = {
        "name": name,
        "Name": camel,
        "dist": dist,
        "module": module,
        "ep": f"{k.slug}-{name.replace('_', '-')}",
        "hook": k.hook,
        "kind": kind,
        "summary": k.summary,
        "tsys_requirement": requirement(__version__),
        "main_module": _MAIN[kind],
        "main_class": f"{camel}{_SUFFIX[kind]}",
        # buckets are registered as instances, the other kinds as classes
        "register_arg": f"{camel}{_SUFFIX[kind]}" + ("()" if kind == "bucket" else ""),
        "provides_key": _PROVIDES[kind],
    }
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        "CHANGELOG.md": _CHANGELOG,
        f"src/{module}/__init__.py": _INIT,
        f"src/{module}/{_MAIN[kind]}.py": _EXAMPLES[kind],
        f"tests/test_{module}.py": _TESTS[kind],
    }
    text = {path: Template(body).substitute(subs) for path, body in files.items()}
    return Package(kind, name, parent / dist, text)


def write(pkg: Package, *, force: bool = False) -> list[Path]:
    if pkg.root.exists() and any(pkg.root.iterdir()) and not force:
        raise ConfigError(f"{pkg.root} already exists and is not empty", hint="pass --force")
    out = []
    for rel, body in pkg.files.items():
        path = pkg.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        out.append(path)
    return out


_MAIN = {"bucket": "bucket", "data-source": "source", "broker": "broker", "notifier": "notifier"}
_SUFFIX = {"bucket": "Bucket", "data-source": "Source", "broker": "Broker", "notifier": "Notifier"}
#: The key of ``tsys plugins --json``'s "provides" that lists what a kind registers.
_PROVIDES = {
    "bucket": "buckets",
    "data-source": "data_sources",
    "broker": "brokers",
    "notifier": "notifiers",
}


def requirement(version: str) -> str:
    """``tsys>=X.Y,<X+1`` (``<0.Y+1`` while tsys is 0.x): the compatibility promise."""
    nums = [int(n) for n in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = nums[0], nums[1]
    ceiling = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"tsys>={major}.{minor},<{ceiling}"
