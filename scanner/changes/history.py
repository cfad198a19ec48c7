"""The population: first-parent commits of the protected branch in a range or period.

A history the tool cannot read completely (a shallow clone that stops inside the range,
a range that does not resolve) is an error, never a shorter population that passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from scanner.changes.gitcmd import Git, GitError

_TRAILERS = "%(trailers:key=Co-authored-by,key=Reviewed-by,key=Approved-by,unfold,separator=%x1e)"
_FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%G?", "%GK", "%GS", _TRAILERS)
_FORMAT = "%x1f".join(_FIELDS) + "%x1f%B"
_CHUNK = 200
_IDENTITY = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<email>[^<>]+)>\s*$")


@dataclass(frozen=True)
class Person:
    """A name and e-mail as git records them."""

    name: str
    email: str

    def to_dict(self) -> dict[str, str]:
        """Plain data for a Change body."""
        return {"name": self.name, "email": self.email.lower()}

    @classmethod
    def parse(cls, text: str) -> Person:
        """``Name <email>`` (a trailer value); a bare value is kept as the name."""
        match = _IDENTITY.match(text)
        if match:
            return cls(match["name"], match["email"])
        return cls(text.strip(), "")


@dataclass(frozen=True)
class Commit:
    """One commit as the log reports it (signature fields under the verifier's trust set)."""

    sha: str
    parents: tuple[str, ...]
    author: Person
    author_date: str
    committer: Person
    committer_date: str
    sig_letter: str
    sig_key: str
    sig_signer: str
    trailers: tuple[tuple[str, str], ...]
    message: str

    def trailer_values(self, key: str) -> list[str]:
        """Values of one trailer key (case-insensitive)."""
        return [v for k, v in self.trailers if k.lower() == key.lower()]


@dataclass(frozen=True)
class Population:
    """The commits to judge, oldest first, and how they were chosen."""

    branch: str
    tip: str
    commits: tuple[str, ...]
    selection: dict[str, str] = field(default_factory=dict)


def from_range(git: Git, text: str) -> Population:
    """``A..B``: first-parent commits reachable from B and not from A."""
    if text.count("..") != 1 or "..." in text:
        raise GitError(f"--range {text!r}: expected START..END (two dots)")
    start_rev, end_rev = text.split("..")
    end = _resolve(git, end_rev or "HEAD", "end")
    if not start_rev:
        raise GitError(f"--range {text!r}: the start of the range is missing")
    start = _resolve(git, start_rev, "start")
    done = git.run("merge-base", "--is-ancestor", start, end, check=False)
    if done.returncode != 0:
        raise GitError(
            f"--range {text!r}: {start_rev} is not an ancestor of {end_rev or 'HEAD'}; "
            "the range would not be one stretch of the protected branch"
        )
    commits = _first_parent(git, f"{start}..{end}")
    _check_complete(git, commits, stop=start, what=f"--range {text!r}")
    selection = {"range": text, "start": start, "end": end}
    return Population(end_rev or "HEAD", end, commits, selection)


def from_period(git: Git, ref: str, since: str | None, until: str | None) -> Population:
    """First-parent commits of ``ref`` committed within ``--since``/``--until``."""
    tip = _resolve(git, ref, "branch")
    args = [f"--since={since}"] if since else []
    args += [f"--until={until}"] if until else []
    commits = _first_parent(git, tip, *args)
    every = _first_parent(git, tip)
    if every and _cut_short(git, every[0]):
        # the oldest commit the clone has is a cut: history before it is missing, and it
        # matters unless that commit is already older than the period
        recent = _first_parent(git, tip, f"--since={since}") if since else every
        if every[0] in recent:
            raise GitError(
                f"--since {since or '(none)'}: the clone is shallow and stops at "
                f"{every[0][:12]}, inside the period; fetch more history "
                "(git fetch --shallow-since=DATE or --unshallow)"
            )
    _check_complete(git, commits, stop=None, what=f"--since/--until on {ref}")
    selection = {"branch": ref, "tip": tip, "since": since or "", "until": until or ""}
    return Population(ref, tip, commits, selection)


def _resolve(git: Git, rev: str, what: str) -> str:
    sha = git.commit_of(rev)
    if sha is None:
        hint = " (the clone is shallow: fetch more history)" if git.is_shallow() else ""
        raise GitError(f"the range {what} {rev!r} does not resolve to a commit{hint}")
    return sha


def _first_parent(git: Git, *args: str) -> tuple[str, ...]:
    out = git.text("rev-list", "--first-parent", "--reverse", *args, "--")
    return tuple(line for line in out.splitlines() if line)


def _cut_short(git: Git, sha: str) -> bool:
    return git.is_shallow() and sha in git.shallow_boundary()


def _check_complete(git: Git, commits: Sequence[str], *, stop: str | None, what: str) -> None:
    """A shallow boundary inside the population means history below it is missing."""
    if not git.is_shallow():
        return
    boundary = git.shallow_boundary()
    cut = [c for c in commits if c in boundary and c != stop]
    if cut:
        raise GitError(
            f"{what}: the clone is shallow and stops at {cut[0][:12]}, inside the range; "
            "fetch the whole range (git fetch --deepen / --unshallow)"
        )


def read_commits(
    git: Git, shas: Sequence[str], *, config: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[Commit]:
    """Metadata of each commit, in the order given (signature fields under ``config``/``env``)."""
    for i in range(0, len(shas), _CHUNK):
        chunk = shas[i : i + _CHUNK]
        out = git.text(
            "log",
            "--no-walk=unsorted",
            "-z",
            f"--format={_FORMAT}",
            *chunk,
            "--",
            config=config,
            env=env,
        )
        for record in out.split("\0"):
            if record.strip():
                yield _parse(record)


def _parse(record: str) -> Commit:
    parts = record.lstrip("\n").split("\x1f", len(_FIELDS))
    sha, parents, an, ae, ad, cn, ce, cd, letter, key, signer, trailers, message = parts
    pairs = []
    for entry in trailers.split("\x1e"):
        key_name, sep, value = entry.partition(":")
        if sep and value.strip():
            pairs.append((key_name.strip(), value.strip()))
    return Commit(
        sha=sha,
        parents=tuple(parents.split()),
        author=Person(an, ae),
        author_date=ad,
        committer=Person(cn, ce),
        committer_date=cd,
        sig_letter=letter or "N",
        sig_key=key,
        sig_signer=signer,
        trailers=tuple(pairs),
        message=message.rstrip("\n"),
    )


def changed_files(git: Git, commit: Commit) -> list[tuple[str, str]]:
    """(status letter, path) of what the commit changed against its first parent."""
    base = [commit.parents[0], commit.sha] if commit.parents else ["--root", commit.sha]
    out = git.text(
        "diff-tree", "-r", "-z", "--no-commit-id", "--name-status", "--no-renames", *base
    )
    fields = [f for f in out.split("\0") if f]
    pairs = [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
    return sorted(pairs, key=lambda pair: pair[1])


def merged_commits(git: Git, merge: Commit) -> list[Commit]:
    """The commits a merge brought in (reachable from its other parents, not the first)."""
    out = git.text("rev-list", f"^{merge.parents[0]}", *merge.parents[1:], "--")
    shas = [s for s in out.splitlines() if s]
    _check_complete(git, shas, stop=None, what=f"merge {merge.sha[:12]}")
    return list(read_commits(git, shas))


def read_blobs(git: Git, specs: Sequence[str], *, limit: int) -> dict[str, str]:
    """``rev:path`` -> text for each spec that names a blob of at most ``limit`` bytes."""
    if not specs:
        return {}
    done = git.run("cat-file", "--batch", stdin="".join(f"{s}\n" for s in specs).encode())
    data, found, pos = done.stdout, {}, 0
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        blob = data[pos : pos + size]
        pos += size + 1
        if size <= limit:
            found[spec] = blob.decode("utf-8", "replace")
    return found
