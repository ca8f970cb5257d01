"""render: `NodePlan` -> bird.conf text, through one strict Jinja environment.

The template only lays out text; every decision was made by the planner, and every string that
came from a resource passes `bird_string` or `symbol` here. Output depends on nothing but the
plan (no timestamps), so an unchanged cluster renders byte-identical text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

import birdgen
from birdgen.model.values import IPNetwork
from birdgen.plan.types import FamilyPlan, FilterFunction, NodePlan, Route, Session
from birdgen.render.bgpfilter import call, function_lines, local_pref
from birdgen.render.symbols import bird_string, comment, symbol


def templates_dir() -> Path:
    """The templates: inside the package when installed from a wheel or sdist (setup.py ships
    the repository's top-level `templates/` as `birdgen/templates/`), beside it in a checkout
    or an editable install, which reads the repository's own."""
    here = Path(birdgen.__file__).resolve().parent
    candidates = (here / "templates", here.parent / "templates")
    for candidate in candidates:
        if (candidate / "bird.conf.j2").is_file():
            return candidate
    raise FileNotFoundError(
        "birdgen's templates (bird.conf.j2) are in neither " + " nor ".join(map(str, candidates))
    )


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        bird_string=bird_string, symbol=symbol, comment=comment, prefix_set=prefix_set
    )
    return env


def prefix_set(nets: tuple[IPNetwork, ...]) -> str:
    """A BIRD prefix set matching each network and everything inside it: `[ 10.49.0.0/16+ ]`."""
    return "[ " + ", ".join(f"{n}+" for n in nets) + " ]"


# The service statics' route preference: above BIRD's defaults for device routes (240), static
# (200), BGP (100) and kernel (10), and above the 200 the import filters give priority routes.
SVC_PREFERENCE = 250


def render(plan: NodePlan) -> str:
    return (
        environment()
        .get_template("bird.conf.j2")
        .render(
            version=birdgen.__version__,
            plan=plan,
            svc_preference=SVC_PREFERENCE,
            families=[_family_view(f) for f in plan.families],
        )
    )


def _family_view(fp: FamilyPlan) -> dict[str, Any]:
    v = fp.family.suffix
    return {
        "plan": fp,
        "v": v,
        "channel": f"ipv{v}",
        "svc": f"svc{v}",
        "kernel": f"kernel{v}",
        "peers_static": f"peers{v}",
        "template": f"bgp{v}",
        "export": f"birdgen_export_v{v}",
        "export_fn": f"birdgen_export_services_v{v}",
        "import": f"birdgen_import_v{v}",
        "kernel_filter": f"birdgen_kernel_v{v}",
        "priority_fn": f"birdgen_priority_v{v}",
        "communities_fn": f"birdgen_communities_v{v}",
        "local_pref_threshold": local_pref(fp.normal_priority),
        # One heading per BGPFilter (as Calico's `# v4 BGPFilter <name>`), then its functions.
        "filter_functions": [
            {
                "heading": i == 0 or fp.filter_functions[i - 1].filter_name != fn.filter_name,
                "name": fn.filter_name,
                "lines": function_lines(fn),
            }
            for i, fn in enumerate(fp.filter_functions)
        ],
        "sessions": [_session_view(s, fp.filter_functions) for s in fp.sessions],
        "blackholes": blackhole_lines(fp.routes),
    }


def blackhole_lines(routes: tuple[Route, ...]) -> str:
    """The static protocol's `route P blackhole;` lines, one string (a node may have 100,000).

    Built here rather than looped over in the template: Jinja's per-item overhead was most of
    the render time for big nodes. The plan already holds each prefix's text.
    """
    if not routes:
        return ""
    return "  route " + " blackhole;\n  route ".join([r.text for r in routes]) + " blackhole;\n"


def _session_view(s: Session, functions: tuple[FilterFunction, ...]) -> dict[str, Any]:
    by_key = {(fn.filter_name, fn.direction): fn for fn in functions}
    return {
        "s": s,
        # Calls of BGPFilter functions; a session with any gets its own inline channel filters.
        "import_calls": [call(by_key[(n, "import")], s.ibgp) for n in s.import_filters],
        "export_calls": [call(by_key[(n, "export")], s.ibgp) for n in s.export_filters],
        "name": symbol(s.name),
        "description": bird_string(s.description),
        "password": bird_string(s.password.reveal()) if s.password is not None else None,
        "neighbor": f"{s.peer_ip} port {s.peer_port}"
        if s.peer_port is not None
        else str(s.peer_ip),
    }
