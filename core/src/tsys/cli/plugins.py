"""``tsys plugins``: what is installed and what it provides; ``tsys plugin new``: write one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tsys.cli._options import json_option

#: The kinds of what a plugin provides, as ``tsys plugins`` names them.
_PROVIDED = (("buckets", "bucket"), ("data_sources", "source"), ("brokers", "broker"),
             ("notifiers", "notifier"))  # fmt: skip


@click.command(name="plugins")
@json_option()
def plugins(as_json: bool) -> None:
    """List installed plugins (built-ins first): package, version, hooks, and what each
    provides (bucket, data source, broker and notifier names).

    Plugins are discovered through the ``tsys`` entry-point group. Set TSYS_LOAD_PLUGINS to a
    comma-separated allow-list, or TSYS_DISABLE_PLUGINS to block some by name. Write a new
    one with `tsys plugin new KIND NAME`.
    """
    from tsys import plugins as plug

    rows = plug.list_plugins()
    failures = [{"name": n, "error": m} for n, m in plug.load_failures]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": failures}, indent=2))
        return
    for r in rows:
        kind = "built-in" if r["builtin"] else r["package"]
        click.echo(f"{r['name']}  ({kind} {r['version']})")
        given = [
            f"{word} {', '.join(r['provides'][key])}"
            for key, word in _PROVIDED
            if r["provides"].get(key)
        ]
        click.echo(f"    provides: {'; '.join(given) or '-'}")
        click.echo(f"    hooks: {', '.join(r['hooks']) or '-'}")
    for f in failures:
        click.secho(f"FAILED {f['name']}: {f['error']}", fg="red", err=True)


@click.group(name="plugin")
def plugin() -> None:
    """Write plugins: `tsys plugin new KIND NAME` (see docs/plugins.md)."""


@plugin.command(name="new")
@click.argument("kind", type=click.Choice(["bucket", "data-source", "source", "broker",
                                           "notifier"]))  # fmt: skip
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the package folder (tsys-KIND-NAME) is made.",
)
@click.option("--force", is_flag=True, help="Write into an existing, non-empty folder.")
@json_option("Print the package and its files as JSON.")
def plugin_new(kind: str, name: str, parent: Path, force: bool, as_json: bool) -> None:
    """Write a ready plugin package of KIND (bucket, data-source, broker, notifier) named NAME.

    \b
    The package has:
      pyproject.toml   the `tsys` entry point, tsys as a dependency
      src/<module>/    the hook implementation and a minimal working example of KIND
      tests/           the entry point, and KIND's contract suite from tsys.testing
      README.md, CHANGELOG.md

    Its tests pass as generated once it is installed:

    \b
      tsys plugin new bucket momentum
      cd tsys-bucket-momentum && pip install -e '.[test]' && pytest
      tsys plugins                       # lists bucket-momentum and its bucket "momentum"

    Beside a uv workspace checkout, `uv pip install -e DIR` then `uv sync --inexact` (a plain
    `uv sync` removes packages its lock does not know).
    """
    from tsys.cli import scaffold

    pkg = scaffold.render(kind, name, parent)
    written = scaffold.write(pkg, force=force)
    if as_json:
        click.echo(json.dumps({"package": pkg.dist, "root": str(pkg.root),
                               "files": sorted(pkg.files)}, indent=2))  # fmt: skip
        return
    click.echo(f"wrote {pkg.dist} in {pkg.root}:")
    for path in written:
        click.echo(f"  {path.relative_to(pkg.root)}")
    click.echo(f"next: cd {pkg.root} && pip install -e '.[test]' && pytest")
