"""``tsys config``: show the effective configuration, or write a starter file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tsys.cli._options import AMOUNT, amount_option, json_option


@click.group(name="config")
def config() -> None:
    """Show or create the configuration (tsys.toml)."""


@config.command(name="show")
@json_option()
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
@json_option()
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
@click.option(
    "--preset",
    type=click.Choice(["alpaca", "alpaca-crypto", "csv", "shared", "demo"]),
    default=None,
    help="What the file reads: alpaca (stock + crypto bars; keys from the environment), "
    "alpaca-crypto (no keys), csv (a folder you keep updated), shared (../shared/data), "
    "demo (synthetic). Asked in a terminal; default otherwise: demo.",
)
@click.option(
    "--folder",
    default=None,
    metavar="DIR",
    help="The csv preset's folder of per-symbol files, or the shared preset's data folder.",
)
@amount_option(
    "--account-size",
    help="Account equity in USD that allocations are sized against (default 100000).",
)
@click.option(
    "--max-positions",
    type=click.IntRange(min=1),
    default=None,
    help="Most positions per bucket (default: sp500 10, crypto 5).",
)
@click.option(
    "--alphavantage/--no-alphavantage",
    default=None,
    help="Add Alpha Vantage news, earnings and sectors (ALPHAVANTAGE_API_KEY; free key: 25 "
    "calls a day).",
)
@click.option(
    "--coingecko/--no-coingecko",
    default=None,
    help="Add CoinGecko market-cap ranks for the crypto universe (no key needed).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(
    path: Path | None,
    preset: str | None,
    folder: str | None,
    account_size: float | None,
    max_positions: int | None,
    alphavantage: bool | None,
    coingecko: bool | None,
    force: bool,
) -> None:
    """Write a commented, working tsys.toml for a preset.

    \b
    Presets:
      alpaca         Alpaca stock and crypto bars; ALPACA_API_KEY/ALPACA_API_SECRET from the
                     environment (without them the S&P 500 bucket is skipped, crypto runs)
      alpaca-crypto  Alpaca crypto bars only: no keys at all
      csv            a folder of per-symbol files you keep updated (--folder DIR)
      shared         the research layout of ../shared/data (--folder DIR), for development
      demo           the built-in synthetic market

    In a terminal, what is not given is asked; otherwise the flags (and their defaults) say
    it all. Secrets are never written: the file says which environment variables to set.

    \b
    Examples:
      tsys config init --preset alpaca-crypto --coingecko
      tsys config init --preset alpaca --alphavantage --account-size 25000
      tsys config init --preset csv --folder ~/prices --max-positions 8
    """
    import sys

    from tsys.cli.presets import PRESETS, render
    from tsys.errors import ConfigError

    target = path or Path.cwd() / "tsys.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists", hint="pass --force to overwrite it")
    ask = sys.stdin.isatty() and preset is None
    if ask:
        for name, p in PRESETS.items():
            click.echo(f"  {name:<14} {p.summary}")
        preset = click.prompt("preset", type=click.Choice(list(PRESETS)), default="alpaca-crypto")
        account_size = account_size or click.prompt(
            "account size (USD)", type=AMOUNT, default=100000.0
        )
        if PRESETS[preset].folder and folder is None:
            default = "../shared/data" if preset == "shared" else str(Path.home() / "tsys-prices")
            folder = click.prompt("data folder", default=default)
        if PRESETS[preset].crypto and coingecko is None:
            coingecko = click.confirm("add CoinGecko market-cap ranks (no key)?", default=True)
        if PRESETS[preset].equities and alphavantage is None:
            alphavantage = click.confirm(
                "add Alpha Vantage news and earnings (needs ALPHAVANTAGE_API_KEY)?", default=False
            )
    preset = preset or "demo"
    text = render(
        preset,
        account_size=account_size or 100_000.0,
        max_positions=max_positions,
        alphavantage=bool(alphavantage),
        coingecko=bool(coingecko),
        folder=folder,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target} (preset {preset})")
    for line in _next_steps(preset, bool(alphavantage)):
        click.echo(line)


def _next_steps(preset: str, alphavantage: bool) -> list[str]:
    keys = []
    if preset == "alpaca":
        keys.append("ALPACA_API_KEY and ALPACA_API_SECRET (stock bars; free keys: IEX feed)")
    if alphavantage:
        keys.append("ALPHAVANTAGE_API_KEY (news and earnings)")
    out = []
    if keys:
        out.append("set in the environment (never in the file): " + "; ".join(keys))
    out.append("next: tsys run-daily --dry-run, then tsys schedule show")
    return out
