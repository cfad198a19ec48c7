"""Every rule over every object of the shared corpus: no ``error`` that is not about the input.

An ``error`` fails the gate, so a rule that errors on a valid object (``rules:`` null, a
container without ``image``, an env entry that is a patch directive) blocks every merge of
a repository that contains one. Every namespace counts as production here, so that the
production-only rules judge every object too.
"""

from __future__ import annotations

from pathlib import Path

from scanner.config import Config, default_params
from scanner.engine import NO_POD_SPEC
from scanner.model import Finding, Status
from scanner.pipeline import scan_repo

#: Rules that read registries; without --images they are `error` by design.
REGISTRY_RULES = "LG-IMG-05"


def _about_the_input(finding: Finding) -> bool:
    """Unreadable files, Helm templates, patches without a pod spec, cron forms nobody can
    judge: the input's fault, reported with the reason."""
    return (
        finding.rule_id.startswith("input/")
        or finding.message.startswith(NO_POD_SPEC)
        or "cannot be judged" in finding.message
    )


def test_no_rule_errors_on_a_valid_object_of_the_corpus(corpus: Path) -> None:
    params = {**default_params(), "productionNamespaces": ["*"]}
    config = Config(params=params, exclude_rules=(f"{REGISTRY_RULES}*",))
    errors: list[str] = []
    judged = 0
    for repo in sorted(p for p in corpus.iterdir() if p.is_dir()):
        result = scan_repo(repo, config)
        judged += sum(1 for f in result.findings if f.status is not Status.ERROR)
        errors.extend(
            f"{repo.name}/{f.origin.path}: {f.rule_id}: {f.message}"
            for f in result.findings
            if f.status is Status.ERROR and not _about_the_input(f)
        )
    assert judged > 1000, "the corpus should give the rules plenty to judge"
    assert errors == []
