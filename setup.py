"""Packaging beyond what pyproject.toml can say: where the templates go.

`templates/` stays at the top of the repository, where contributors and the golden tests find
it, and is installed as the package data `birdgen/templates/`, where the renderer finds it in
a wheel (`birdgen.render.render.templates_dir`). pyproject.toml cannot add a package from
another directory next to a `find` of the others, so both are named here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["birdgen", "birdgen.*"]), "birdgen.templates"],
    package_dir={"birdgen.templates": "templates"},
    package_data={"birdgen.templates": ["*.j2"]},
)
