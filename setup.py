"""Ship the top-level templates/, static/ and seed_data/ folders inside the wheel."""

from __future__ import annotations

import os

from setuptools import find_packages, setup

DATA_FOLDERS = {
    "webapp.templates": "templates",
    "webapp.static": "static",
    "webapp.seed_data": "seed_data",
}


def _all_files(folder: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), folder))
    return found


packages = find_packages(include=["webapp", "webapp.*"])
package_data = {pkg: ["**/*.ini", "**/*.mako", "**/*.py"] for pkg in packages}
for pkg, folder in DATA_FOLDERS.items():
    packages.append(pkg)
    package_data[pkg] = _all_files(folder)

setup(
    packages=packages,
    package_dir={**DATA_FOLDERS},
    package_data=package_data,
)
