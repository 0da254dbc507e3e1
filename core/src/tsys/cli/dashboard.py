"""``tsys dashboard``: serve the local web dashboard (heavy imports inside the command)."""

from __future__ import annotations

import click

from tsys.cli import load_config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port (0: any free one).")
@click.option("--open", "open_", is_flag=True, help="Open the dashboard in the default browser.")
@click.option(
    "--token",
    default=None,
    envvar="TSYS_DASHBOARD_TOKEN",
    help="Access token every request must carry (required off loopback; generated and "
    "printed once when not given). Also read from TSYS_DASHBOARD_TOKEN.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Show the demo sandbox (synthetic market); makes a demo run first when there is none.",
)
@click.pass_context
def dashboard(
    ctx: click.Context, host: str, port: int, open_: bool, token: str | None, demo: bool
) -> None:
    """Serve the local web dashboard: today's plan, portfolio, paper, manual trades, research, runs.

    It reads the same data dir, store and configuration as every other command and writes only
    through the store's own checks (the manual trades). It listens on 127.0.0.1 only unless
    --host says otherwise; any other address needs an access token, and the address with
    ?token=... is printed once. Stop it with Ctrl-C.

    \b
    Examples:
      tsys dashboard --demo --open            the dashboard on the synthetic demo market
      tsys dashboard                          http://127.0.0.1:8765/
      tsys dashboard --host 0.0.0.0 --port 9000   reachable from the network, with a token

    To keep it running next to the scheduler, see `tsys schedule show` (a systemd unit).
    """
    import attrs

    from tsys.dashboard import bind, make_server, url_of
    from tsys.dashboard.app import build_app
    from tsys.dashboard.security import guard_for
    from tsys.dashboard.state import Dashboard
    from tsys.errors import ConfigError

    cfg = load_config(ctx)
    if demo:
        cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, source="demo"))
        _first_demo_run(cfg)
    guard, generated = guard_for(host, token)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another port with --port (0: any free one)",
        ) from None
    url = url_of(sock)
    shown = f"{url}?token={generated}" if generated else url
    click.echo(f"tsys dashboard on {shown}  (Ctrl-C stops it)")
    if generated:
        click.echo("the token is printed only this once; pass --token to choose your own", err=True)
    if open_:
        click.launch(shown)
    import threading

    from tsys.dashboard.pages import warm

    dash = Dashboard(cfg, guard)
    threading.Thread(target=warm, args=(dash,), daemon=True, name="tsys-dashboard-warm").start()
    server = make_server(build_app(dash), sock)
    server.run(sockets=[sock])


def _first_demo_run(cfg) -> None:
    from tsys.store.runs import latest_run
    from tsys.workspace import workspace

    if latest_run(workspace(cfg).runs_dir) is not None:
        return
    from tsys.daily.pipeline import run_daily

    click.echo("no demo run yet: making one on the synthetic market (about a minute) ...", err=True)
    run_daily(cfg, demo=True, send=False)
