"""Recovery point per protected scope (LG-BAK-016): the most frequent covering schedule wins."""

from __future__ import annotations

from scanner.analyzers.recovery import WHOLE, Cover, recovery_point, selector_scope


def test_weekly_offsite_beside_daily_does_not_lengthen_the_recovery_point() -> None:
    fact = recovery_point([Cover("weekly", WHOLE, 168.0), Cover("daily", WHOLE, 24.0)], [])
    assert fact["hours"] == 24.0
    assert fact["worstScope"] == WHOLE
    assert fact["considered"] == ["daily (24h)", "weekly (168h)"]


def test_a_selector_scope_is_covered_by_whole_namespace_schedules_but_not_the_reverse() -> None:
    ledger = selector_scope({"labelSelector": {"matchLabels": {"app": "ledger"}}})
    fact = recovery_point([Cover("ledger", ledger, 24.0), Cover("all", WHOLE, 168.0)], [])
    assert [(s["scope"], s["hours"]) for s in fact["scopes"]] == [(WHOLE, 168.0), (ledger, 24.0)]
    assert (fact["worstScope"], fact["hours"]) == (WHOLE, 168.0)


def test_k8up_file_copies_do_not_cover_a_database() -> None:
    files = Cover("k8up", WHOLE, 24.0, databases=False)
    fact = recovery_point([files], ["ledger-db"])
    assert fact["worstScope"] == "database ledger-db"
    assert "hours" not in fact and fact["unjudged"] == []
    with_velero = recovery_point([files, Cover("velero", WHOLE, 24.0)], ["ledger-db"])
    assert with_velero["hours"] == 24.0


def test_a_schedule_that_never_runs_covers_nothing_and_an_unjudged_one_is_reported() -> None:
    never = recovery_point([Cover("six-fields", WHOLE, None, "never runs", runs=False)], [])
    assert "hours" not in never and never["unjudged"] == []
    odd = recovery_point([Cover("odd", WHOLE, None, "cannot be judged")], [])
    assert odd["unjudged"] == ["odd: cannot be judged"]


def test_selector_scope_is_canonical() -> None:
    a = selector_scope({"labelSelector": {"matchLabels": {"b": "1", "a": "2"}}})
    b = selector_scope({"labelSelector": {"matchLabels": {"a": "2", "b": "1"}}})
    assert a == b != WHOLE
    assert selector_scope({"includedNamespaces": ["x"]}) == WHOLE
