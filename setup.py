"""Package discovery (everything else is in pyproject.toml).

pyproject.toml cannot combine ``packages.find`` with the two renamed data packages
(``rules/`` -> ``ledgergate_rules``, ``reports/`` -> ``ledgergate_reports``), so the list is
built here: every package under scanner/, found, plus those two.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["scanner", "scanner.*"]),
        "ledgergate_rules",
        "ledgergate_reports",
    ]
)
