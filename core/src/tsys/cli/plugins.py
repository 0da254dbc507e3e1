"""``tsys plugins``: what is installed, its version, and the hooks it implements."""

from __future__ import annotations

import json

import click


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def plugins(as_json: bool) -> None:
    """List installed plugins (built-ins first) with their package, version and hooks.

    Plugins are discovered through the ``tsys`` entry-point group. Set TSYS_LOAD_PLUGINS to a
    comma-separated allow-list, or TSYS_DISABLE_PLUGINS to block some by name.
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
        click.echo(f"    hooks: {', '.join(r['hooks']) or '-'}")
    for f in failures:
        click.secho(f"FAILED {f['name']}: {f['error']}", fg="red", err=True)
