"""``tsys config``: show the effective configuration, or write a starter file."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(name="config")
def config() -> None:
    """Show or create the configuration (tsys.toml)."""


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration (file + environment), secrets redacted."""
    from tsys.cli import load_config
    from tsys.config import redacted

    cfg = load_config(ctx)
    data = redacted(cfg)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(f"# source: {cfg.source_path or 'built-in defaults'}")
    click.echo(f"# digest: {cfg.digest()}")
    _print_tree(data)


def _print_tree(data: dict, indent: int = 0) -> None:
    pad = "  " * indent
    for k, v in data.items():
        if isinstance(v, dict) and v:
            click.echo(f"{pad}{k}:")
            _print_tree(v, indent + 1)
        else:
            click.echo(f"{pad}{k}: {json.dumps(v)}")


@config.command(name="path")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def config_path(ctx: click.Context, as_json: bool) -> None:
    """Print where configuration is searched, in order, and which file won.

    Also the data dir in use and where it comes from. A scheduled run (cron, systemd) starts
    in another folder with another environment: `tsys schedule show` pins both.
    """
    from tsys.cli import load_config
    from tsys.config import config_places, data_dir_origin, find_config_file

    explicit = (ctx.find_root().obj or {}).get("config_path")
    places = config_places(explicit)
    winner = find_config_file(explicit)
    won = None if winner is None else Path(winner).expanduser().absolute()
    cfg = load_config(ctx)
    data = {
        "searched": [
            {
                "place": p.label,
                "path": None if p.path is None else str(p.path),
                "exists": p.exists,
                "used": won is not None and p.path == won,
            }
            for p in places
        ],
        "used": None if won is None else str(won),
        "data_dir": str(cfg.data_path.absolute()),
        "data_dir_from": data_dir_origin(cfg),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo("configuration is searched in this order (the first found wins):")
    for i, p in enumerate(data["searched"], 1):
        where = p["path"] or ("not given" if p["place"] == "--config" else "not set")
        state = "USED" if p["used"] else ("found" if p["exists"] else "not found")
        if p["path"] is None:
            state = "-"
        click.echo(f"  {i}. {p['place']:<16} {where}  [{state}]")
    if won is None:
        click.echo("no file found: running on built-in defaults (the demo market)")
        click.echo("  write one with `tsys config init`")
    else:
        click.echo(f"used: {won}")
    click.echo(f"data dir: {data['data_dir']} (from {data['data_dir_from']})")


@config.command(name="init")
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write (default: ./tsys.toml).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(path: Path | None, force: bool) -> None:
    """Write a commented starter tsys.toml."""
    from tsys.config import STARTER
    from tsys.errors import ConfigError

    target = path or Path.cwd() / "tsys.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists", hint="pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(STARTER, encoding="utf-8")
    click.echo(f"wrote {target}")
