"""CODEOWNERS: who holds the approve duty for a path (GitHub and GitLab semantics).

Patterns are gitignore-style (``pathspec``'s git wildmatch), the last matching line wins,
and a line with no owners leaves the path unowned. GitLab ``[Section]`` headers are read
as plain lines. The file is read from the change's *first parent*: a change cannot make
its own author an owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as GitWildMatchPattern

#: Where GitHub and GitLab look, in their order of precedence.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


@dataclass(frozen=True)
class CodeOwners:
    """Parsed rules: (pattern, owners) in file order."""

    path: str
    rules: tuple[tuple[GitWildMatchPattern, tuple[str, ...]], ...]

    @classmethod
    def parse(cls, path: str, text: str) -> CodeOwners:
        """Read a CODEOWNERS file; unparsable patterns are skipped as git would."""
        rules = []
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#") or line.startswith(("[", "^[")):
                continue
            pattern, *owners = line.split()
            try:
                compiled = GitWildMatchPattern(pattern)
            except ValueError:
                continue
            if compiled.include is None:
                continue
            rules.append((compiled, tuple(o.lower() for o in owners)))
        return cls(path, tuple(rules))

    def owners_of(self, file: str) -> tuple[str, ...]:
        """Owners of a path ('' tuple when unowned); the last matching rule decides."""
        found: tuple[str, ...] = ()
        for pattern, owners in self.rules:
            if pattern.match_file(file) is not None:
                found = owners
        return found
