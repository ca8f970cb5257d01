"""sources: PyYAML with kubectl's resolver table, the reader of every YAML file yaml-rs may read
otherwise (`birdgen.sources.files` decides which). Imported only when such a file comes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml import YAMLError

__all__ = ["KubeYamlLoader", "YAMLError", "load_all", "message"]

# libyaml's parser when PyYAML was built with it: several times faster on cluster-sized dumps.
# The resolver stays PyYAML's Python one, so the adjustments below apply to both.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeYamlLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML as kubectl reads it: no base-60 numbers, no timestamps, no `=` value tag.

    PyYAML follows YAML 1.1 to the letter, so an unquoted community `65000:10` would become the
    integer 3900010 and a date would become a `datetime`; kubectl's parser does neither.
    """


KubeYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp",
            "tag:yaml.org,2002:value",
        )
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
KubeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    # Every form needs a digit: PyYAML's own `0b[0-1_]+` takes `0b_` and then int() raises.
    re.compile(
        r"^(?:[-+]?0b_*[0-1][0-1_]*|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*)$"
    ),
    list("-+0123456789"),
)
KubeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]*[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_all(text: str) -> list[Any]:
    """The documents of a YAML stream, read as kubectl reads them."""
    return list(yaml.load_all(text, Loader=KubeYamlLoader))


def message(exc: YAMLError) -> str:
    """PyYAML's error: where (line and column) and what."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
