"""The command line: a thin shell over `birdgen.pipeline`.

Reads options and the environment, calls the pipeline, and maps birdgen's errors to exit codes
in one place: 0 success, 1 invalid input or a config BIRD rejected, 2 usage errors (click).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from birdgen import __version__
from birdgen.errors import EXIT_INVALID, BirdgenError
from birdgen.explain import explain as explain_plan
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, apply, render_objects
from birdgen.sources import files


def environment(node: str | None) -> Environment:
    """This node's identity as calico-node reads it from its environment."""
    return Environment.from_mapping(node, os.environ, socket.gethostname())


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    click.echo(f"birdgen: {message}", err=True)
    sys.exit(code)


def load(paths: Sequence[str], kubeconfig: str | None, in_cluster: bool) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    if kubeconfig or in_cluster:
        from birdgen.sources.kube import KubeSource, connect  # the kubernetes client is slow to import

        objects += KubeSource(connect(kubeconfig), environment(None).secrets_namespace).list_all()
    objects += files.load(paths)
    return objects


def render_or_exit(paths: Sequence[str], node: str | None, kubeconfig: str | None, in_cluster: bool) -> Rendered:
    if not paths and not kubeconfig and not in_cluster:
        raise click.UsageError("give the resources with -f PATH (or --kubeconfig / --in-cluster)")
    try:
        rendered = render_objects(load(paths, kubeconfig, in_cluster), environment(node))
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)
    for notice in rendered.notices:
        click.echo(f"birdgen: {notice}", err=True)
    return rendered


sources_options = [
    click.option("-f", "--filename", "paths", multiple=True, metavar="PATH",
                 help="Manifest file or directory (YAML/JSON, recursive); '-' reads stdin. Repeatable."),
    click.option("--node", metavar="NAME", help="Node to render for. [default: $NODENAME, else the host name]"),
    click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False), help="Read the resources from this cluster."),
    click.option("--in-cluster", is_flag=True, help="Read the resources from the cluster this pod runs in."),
]  # fmt: skip


def with_sources(fn: Any) -> Any:
    for option in reversed(sources_options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "BIRDGEN"})
@click.version_option(__version__, prog_name="birdgen")
def main() -> None:
    """Render BIRD 2 configs that advertise Kubernetes Service IPs over BGP, as Calico does."""


@main.command()
@with_sources
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here atomically instead of stdout.")
@click.option("--check", is_flag=True, help="Have BIRD parse the config (bird -p) before anything is written.")
@click.option("--bird", default="bird", show_default=True, metavar="PATH", help="The BIRD binary used by --check.")
def render(paths: tuple[str, ...], node: str | None, kubeconfig: str | None, in_cluster: bool,
           output: Path | None, check: bool, bird: str) -> None:
    """Render one node's bird.conf from manifests (or a cluster)."""
    from birdgen.write.check import check_file, check_text

    rendered = render_or_exit(paths, node, kubeconfig, in_cluster)
    try:
        if output is None:
            if check:
                check_text(rendered.text, bird=bird, display_name="<rendered config>")
            click.echo(rendered.text, nl=False)
            return
        checker = (lambda staged: check_file(staged, bird=bird, display_name=str(output))) if check else None
        result = apply(rendered.text, output, check=checker)
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)
    except OSError as exc:
        fail(f"{output}: {exc.strerror or exc}")
    click.echo(f"birdgen: {output}: {'written' if result.changed else 'unchanged'}", err=True)


@main.command()
@with_sources
@click.argument("prefix", required=False)
def explain(paths: tuple[str, ...], node: str | None, kubeconfig: str | None, in_cluster: bool, prefix: str | None) -> None:
    """List every prefix the node advertises and every session it opens, and why."""
    rendered = render_or_exit(paths, node, kubeconfig, in_cluster)
    try:
        click.echo(explain_plan(rendered.plan, prefix), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PREFIX") from None
