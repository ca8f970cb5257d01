"""`mutmut` for `./dev mutate`, with the type-check filter's error mapping done by `ast`.

mutmut's pre-filter (`type_check_command`) runs mypy over `mutants/`, then finds the mutant
each error is in by parsing every mutated file that has an error with libcst and its position
metadata: 300,000 lines here, 2.6 GB and 6-7 CPU minutes, the longest phase of a run after the
mutants' tests. Python's own parser finds the same functions' line spans in seconds.
`filter_mutants_with_type_checker` below is mutmut 3.8's, with only that lookup changed; the
mapping was checked equal to mutmut's on a whole run's 3,000-odd errors (docs/testing.md).

Usage: `python -P tests/mutmut_run.py run --max-children 2 [GLOB...]`, as `mutmut` itself (`-P`:
this directory stays off `sys.path`; the tests import their helpers from `mutants/tests`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mutmut
import mutmut.__main__ as mutmut_main
from mutmut.configuration import config
from mutmut.mutation.file_mutation import (
    FailedTypeCheckMutant,
    MutatedMethodLocation,
    group_by_path,
)
from mutmut.type_checking import run_type_checker
from mutmut.utils.file_utils import change_cwd
from mutmut.utils.format_utils import get_mutant_name, is_mutated_method_name

# The function replaced is an internal one: a mutmut whose internals moved must be looked at
# again rather than half-patched.
SUPPORTED = "3.8."


def mutated_functions(path: Path, source: str) -> list[MutatedMethodLocation]:
    """The mutant functions of one mutated file, at module level or in classes, as mutmut's
    libcst visitor finds them (it does not look inside functions either)."""
    found: list[MutatedMethodLocation] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if is_mutated_method_name(node.name):
                    # From `def` to the last line (decorators excluded), as libcst gives it.
                    end = node.end_lineno or node.lineno
                    found.append(MutatedMethodLocation(path, node.name, node.lineno, end))
            elif isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(ast.parse(source).body)
    return found


def filter_mutants_with_type_checker() -> dict[str, FailedTypeCheckMutant]:
    with change_cwd(Path("mutants")):
        errors = run_type_checker(config().type_check_command)
        caught: dict[str, FailedTypeCheckMutant] = {}
        for path, errors_of_file in group_by_path(errors).items():
            methods = mutated_functions(path, path.read_text(encoding="utf-8"))
            if not methods:
                continue
            for error in errors_of_file:
                mutant = next(
                    (
                        m
                        for m in methods
                        if m.line_number_start <= error.line_number <= m.line_number_end
                    ),
                    None,
                )
                if mutant is None:
                    raise RuntimeError(
                        f"no mutant holds the type error {path}:{error.line_number} ({error.error_description})"
                    )
                name = get_mutant_name(path.relative_to(Path(".").absolute()), mutant.function_name)
                caught[name] = FailedTypeCheckMutant(method_location=mutant, name=name, error=error)
        return caught


def main() -> None:
    version = getattr(mutmut, "__version__", "")
    if not version.startswith(SUPPORTED):
        sys.exit(f"mutmut_run: written for mutmut {SUPPORTED}x, found {version or 'unknown'}")
    mutmut_main.filter_mutants_with_type_checker = filter_mutants_with_type_checker
    mutmut_main.cli()


if __name__ == "__main__":
    main()
