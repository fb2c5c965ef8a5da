"""The ``tars`` command: monitor, pub, bench, up, and the commands installed workers add."""

from __future__ import annotations

import typer

from tars import __version__
from tars.cli.bench import bench_app, register_plugins
from tars.cli.common import plugins
from tars.cli.converse import converse
from tars.cli.monitor import monitor
from tars.cli.pub import pub
from tars.cli.secrets import secrets
from tars.cli.up import up

app = typer.Typer(
    help="tars: an offline voice assistant on MQTT. Start with `tars up`, watch with `tars monitor`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
app.command()(monitor)
app.command()(pub)
app.command()(up)
app.command()(converse)
app.command()(secrets)
app.add_typer(bench_app, name="bench")


@app.command()
def version() -> None:
    """Print the tars version."""
    typer.echo(__version__)


def _load_plugins() -> None:
    register_plugins()
    for name, ep in sorted(plugins("tars.cli").items()):
        obj = ep.load()
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)


def main() -> None:
    _load_plugins()
    app()
