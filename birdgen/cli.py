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
from typing import TYPE_CHECKING, Any, NoReturn

import click

from birdgen import __version__, quick_exit
from birdgen.collector import collector_paused
from birdgen.errors import EXIT_DRIFT, EXIT_INVALID, EXIT_OK, BirdgenError, SourceError
from birdgen.explain import explain as explain_plan
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, apply, render_objects

if TYPE_CHECKING:
    from birdgen.sources import files


def environment(node: str | None) -> Environment:
    """This node's identity as calico-node reads it from its environment."""
    return Environment.from_mapping(node, os.environ, socket.gethostname())


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    click.echo(f"birdgen: {message}", err=True)
    sys.exit(code)


def load(paths: Sequence[str], kubeconfig: str | None, in_cluster: bool) -> list[files.Manifest]:
    objects: list[files.Manifest] = []
    if kubeconfig or in_cluster:
        from birdgen.sources.kube import (  # the kubernetes client is slow to import
            KubeSource,
            connect,
        )

        objects += KubeSource(connect(kubeconfig), environment(None).secrets_namespace).list_all()
    from birdgen.sources import files  # its YAML and regex libraries: only where files are read

    from_files = files.load(paths)
    if paths and not from_files:
        raise SourceError(
            f"no manifest was read from {' '.join(paths)}: a directory is searched for "
            "*.yaml, *.yml and *.json files, and the files found (if any) held no object"
        )
    return objects + from_files


def render_or_exit(
    paths: Sequence[str],
    node: str | None,
    kubeconfig: str | None,
    in_cluster: bool,
    *,
    withheld: bool = True,
) -> Rendered:
    """The rendered config and its plan; `withheld=False` for a command that reads only the
    text (`render`), which then skips planning the addresses the node does not advertise."""
    if not paths and not kubeconfig and not in_cluster:
        raise click.UsageError("give the resources with -f PATH (or --kubeconfig / --in-cluster)")
    try:
        with collector_paused():
            objects = load(paths, kubeconfig, in_cluster)
            rendered = render_objects(objects, environment(node), withheld=withheld)
            # Freed with the process, not one by one (birdgen.quick_exit); kept before the
            # collector is on again, which would otherwise walk them all at once.
            quick_exit.keep(objects)
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)
    for notice in rendered.notices:
        click.echo(f"birdgen: {notice}", err=True)
    return rendered


sources_options = [
    click.option("-f", "--filename", "paths", multiple=True, metavar="PATH",
                 type=click.Path(exists=True, allow_dash=True),
                 help="Manifest file or directory (YAML/JSON, recursive); '-' reads stdin. Repeatable."),
    click.option("--node", metavar="NAME", help="Node to render for. [default: $NODENAME, else the host name]"),
    click.option("--kubeconfig", metavar="FILE", type=click.Path(dir_okay=False), help="Read the resources from this cluster."),
    click.option("--in-cluster", is_flag=True, help="Read the resources from the cluster this pod runs in."),
]  # fmt: skip


def with_sources(fn: Any) -> Any:
    for option in reversed(sources_options):
        fn = option(fn)
    return fn


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "BIRDGEN"}
)
@click.version_option(__version__, prog_name="birdgen")
def main() -> None:
    """Render BIRD 2 configs that advertise Kubernetes Service IPs over BGP, as Calico does."""


@main.command()
@with_sources
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here atomically instead of stdout.",
)
@click.option(
    "--check", is_flag=True, help="Have BIRD parse the config (bird -p) before anything is written."
)
@click.option(
    "--bird",
    default="bird",
    show_default=True,
    metavar="PATH",
    help="The BIRD binary used by --check.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print the unified diff from the current -o file to the candidate; write nothing.",
)
def render(
    paths: tuple[str, ...],
    node: str | None,
    kubeconfig: str | None,
    in_cluster: bool,
    output: Path | None,
    check: bool,
    bird: str,
    diff: bool,
) -> None:
    """Render one node's bird.conf from manifests (or a cluster)."""
    from birdgen.write.check import check_file, check_text

    if diff and output is None:
        raise click.UsageError("--diff compares with the file given by -o")
    rendered = render_or_exit(paths, node, kubeconfig, in_cluster, withheld=False)
    if diff:
        assert output is not None
        click.echo(unified_diff(output, rendered.text), nl=False)
        return
    try:
        if output is None:
            if check:
                check_text(rendered.text, bird=bird, display_name="<rendered config>")
            click.echo(rendered.text, nl=False)
            return
        checker = (
            (lambda staged: check_file(staged, bird=bird, display_name=str(output)))
            if check
            else None
        )
        result = apply(rendered.text, output, check=checker)
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)
    except OSError as exc:
        fail(f"{output}: {exc.strerror or exc}")
    click.echo(f"birdgen: {output}: {'written' if result.changed else 'unchanged'}", err=True)


def unified_diff(current: Path, candidate: str) -> str:
    """The diff from `current` (absent: empty) to `candidate`, "" when they are the same."""
    import difflib

    try:
        old = current.read_text()
    except FileNotFoundError:
        old = ""
    except OSError as exc:
        fail(f"{current}: {exc.strerror or exc}")
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            candidate.splitlines(keepends=True),
            fromfile=str(current),
            tofile=f"{current} (candidate)",
        )
    )


@main.command()
@with_sources
@click.option(
    "--control-socket",
    default="/run/bird/bird.ctl",
    show_default=True,
    metavar="PATH",
    help="The running BIRD's control socket.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--kernel/--no-kernel",
    default=True,
    show_default=True,
    help="Also check that this network namespace's kernel holds no service route from BIRD.",
)
def status(
    paths: tuple[str, ...],
    node: str | None,
    kubeconfig: str | None,
    in_cluster: bool,
    control_socket: str,
    as_json: bool,
    kernel: bool,
) -> None:
    """Compare the running BIRD with the plan: exit 0 in step, 3 on drift, 1 unreachable."""
    from birdgen.verify import report
    from birdgen.verify.drift import compare
    from birdgen.verify.observe import observe

    rendered = render_or_exit(paths, node, kubeconfig, in_cluster)
    try:
        observed = observe(control_socket, rendered.plan, kernel=kernel)
    except BirdgenError as exc:
        fail(str(exc), EXIT_INVALID)
    drift = compare(rendered.plan, observed)
    name = rendered.plan.node_name
    out = report.dumps if as_json else report.as_text
    click.echo(out(name, observed, drift), nl=False)
    sys.exit(EXIT_OK if drift.clean else EXIT_DRIFT)


@main.command()
@with_sources
@click.argument("prefix", required=False)
def explain(
    paths: tuple[str, ...],
    node: str | None,
    kubeconfig: str | None,
    in_cluster: bool,
    prefix: str | None,
) -> None:
    """List every prefix the node advertises and every session it opens, and why."""
    rendered = render_or_exit(paths, node, kubeconfig, in_cluster)
    try:
        click.echo(explain_plan(rendered.plan, prefix), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PREFIX") from None


@main.command()
@click.option(
    "--ipv6",
    is_flag=True,
    help="Dual stack: also advertise fd00:49::/112 and fd00:49::83 over IPv6 sessions.",
)
@click.option(
    "--pause",
    is_flag=True,
    help="Wait for a key before tearing down, to look around with `ip netns exec`.",
)
@click.option(
    "--manifests",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="DIR",
    help="The walkthrough's manifests. [default: examples/walkthrough of this checkout]",
)
def lab(ipv6: bool, pause: bool, manifests: Path | None) -> None:
    """Build the walkthrough's topology in network namespaces (needs root) and show the ToR's
    routes."""
    from birdgen.lab.netns import LabError
    from birdgen.lab.walkthrough import run_walkthrough

    def wait_for_key() -> None:
        # click.pause does nothing without a terminal, so a piped run never hangs here.
        click.pause("# the lab is up; press any key to tear it down")

    try:
        run_walkthrough(
            click.echo, ipv6=ipv6, pause=wait_for_key if pause else None, manifests=manifests
        )
    except (LabError, TimeoutError) as exc:
        fail(f"lab: {exc}")
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)


@main.command()
@with_sources
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The live bird.conf, kept in step with the sources.",
)
@click.option(
    "--control-socket",
    default="/run/bird/bird.ctl",
    show_default=True,
    metavar="PATH",
    help="BIRD's control socket: `configure` (and `show`) are sent here.",
)
@click.option(
    "--reload-command",
    metavar="CMD",
    help="Run CMD (split like a shell would, no shell) to reload BIRD instead.",
)
@click.option(
    "--bird",
    default="bird",
    show_default=True,
    metavar="PATH",
    help="The BIRD binary for `bird -p` when no daemon answers.",
)
@click.option(
    "--debounce",
    default=0.1,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds without changes before a batch is applied.",
)
@click.option(
    "--max-delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Apply at most this many seconds after a batch's first change.",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1:9094",
    show_default=True,
    metavar="HOST:PORT",
    help="Serve /healthz, /readyz and /metrics here; '' turns it off.",
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--resync",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between re-renders from the local store (repairs a hand-edited file); the cluster is never relisted on a timer.",
)
@click.option(
    "--verify-timeout",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="N",
    help="Reload with `configure timeout N` and confirm only once the sessions and routes "
    "verify (else undo); 0 turns the transaction off.",
)
@click.option(
    "--drift-interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between comparisons of the running BIRD (and kernel) with the plan; "
    "0 turns them off.",
)
def run(
    paths: tuple[str, ...],
    node: str | None,
    kubeconfig: str | None,
    in_cluster: bool,
    output: Path,
    control_socket: str,
    reload_command: str | None,
    bird: str,
    debounce: float,
    max_delay: float,
    metrics_addr: str,
    log_format: str,
    resync: float,
    verify_timeout: int,
    drift_interval: float,
) -> None:
    """Keep bird.conf and the running BIRD in step with the cluster and the files (sidecar)."""  # fmt: skip
    import shlex
    import signal

    from birdgen.reload import CommandReloader, Reloader, SocketReloader
    from birdgen.sidecar import heap, logs
    from birdgen.sidecar.drift import DriftWatch
    from birdgen.sidecar.loop import Sidecar
    from birdgen.sidecar.reconcile import Reconciler
    from birdgen.verify.transaction import Transaction

    if not paths and not kubeconfig and not in_cluster:
        raise click.UsageError("give the resources with -f PATH and/or --kubeconfig / --in-cluster")
    if "-" in paths:
        raise click.UsageError("run watches its sources; standard input ('-') cannot be watched")
    logs.setup(log_format)
    env = environment(node)
    reloader: Reloader = (
        CommandReloader(shlex.split(reload_command), bird_binary=bird)
        if reload_command
        else SocketReloader(control_socket, bird_binary=bird)
    )
    kube = None
    try:
        if kubeconfig or in_cluster:
            from birdgen.sources.kube import KubeSource, connect

            kube = KubeSource(connect(kubeconfig), env.secrets_namespace)
        reconciler = Reconciler(output.absolute(), env, reloader)
        # The transaction and the drift check speak BIRD's control socket; a reload command
        # is opaque, so with one neither runs.
        if verify_timeout and not reload_command:
            reconciler.transaction = Transaction(control_socket, verify_timeout, bird_binary=bird)
        drift = (
            DriftWatch(control_socket, reconciler.metrics, drift_interval)
            if drift_interval and not reload_command
            else None
        )
        sidecar = Sidecar(
            reconciler,
            paths=paths,
            kube=kube,
            debounce=debounce,
            max_delay=max_delay,
            resync=resync,
            metrics_addr=metrics_addr or None,
            drift=drift,
        )
    except BirdgenError as exc:
        fail(str(exc), exc.exit_code)
    except (OSError, ValueError) as exc:
        fail(f"run: {exc}")

    def on_signal(signum: int, frame: object) -> None:
        sidecar.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    heap.tune()  # before any thread starts: one malloc arena for them all
    sidecar.run()


def entry() -> None:
    """The console script (and `python -m birdgen`): `main`, ending as `birdgen.quick_exit`
    says once a one-shot command is done."""
    quick_exit.start()
    try:
        main()
    except SystemExit as done:
        quick_exit.end(done.code)
        raise
