"""Throwaway Git repositories with real commits, merges, trailers and real signatures.

OpenPGP keys are made by ``gpg`` in a private GNUPGHOME and SSH keys by ``ssh-keygen``;
git signs with them exactly as a developer's machine would. Nothing here is mocked.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: Commit dates start here and advance an hour per git call (deterministic commit ids).
START = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE = {
    "alice": ("Alice Maker", "alice@finance.example"),
    "bob": ("Bob Approver", "bob@finance.example"),
    "carol": ("Carol Checker", "carol@finance.example"),
    "mallory": ("Mallory Outsider", "mallory@elsewhere.example"),
    "eve": ("Eve Outsider", "eve@elsewhere.example"),
}


def _run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"{cmd[:3]} failed: {done.stderr.decode()}")
    return done.stdout.decode()


@dataclass
class Keys:
    """Signing keys: OpenPGP for ``gpg_people``, SSH for ``ssh_people``."""

    folder: Path
    gpg_home: Path = field(init=False)
    fingerprints: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.gpg_home = self.folder / "gnupg"
        self.gpg_home.mkdir(mode=0o700, parents=True)
        for who in ("alice", "bob", "mallory"):
            name, email = PEOPLE[who]
            self._gpg(
                "--passphrase",
                "",
                "--pinentry-mode",
                "loopback",
                "--quick-gen-key",
                f"{name} <{email}>",
                "ed25519",
                "sign",
                "never",
            )
            out = self._gpg("--with-colons", "--list-keys", email)
            self.fingerprints[who] = next(
                line.split(":")[9] for line in out.splitlines() if line.startswith("fpr")
            )
        for who in ("bob", "carol", "eve"):
            _run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    who,
                    "-f",
                    str(self.folder / f"ssh-{who}"),
                ]
            )

    def close(self) -> None:
        """Stop the gpg-agent that key generation and signing started for this home (it
        would outlive the test run otherwise)."""
        subprocess.run(
            ["gpgconf", "--homedir", str(self.gpg_home), "--kill", "all"],
            capture_output=True,
            timeout=30,
            check=False,
        )

    def __enter__(self) -> Keys:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _gpg(self, *args: str) -> str:
        return _run(["gpg", "--homedir", str(self.gpg_home), "--batch", *args])

    def keyring(self, *people: str, armor: bool = True) -> Path:
        """Public keys of ``people`` exported to one file (the auditor's trust set)."""
        path = self.folder / f"keyring-{'-'.join(people)}.{'asc' if armor else 'gpg'}"
        args = ["--armor"] if armor else []
        data = subprocess.run(
            [
                "gpg",
                "--homedir",
                str(self.gpg_home),
                "--batch",
                *args,
                "--export",
                *(self.fingerprints[p] for p in people),
            ],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        path.write_bytes(data)
        return path

    def allowed_signers(self, *people: str) -> Path:
        """An SSH allowed-signers file for ``people``."""
        path = self.folder / f"allowed-{'-'.join(people)}"
        lines = [
            f"{PEOPLE[p][1]} {(self.folder / f'ssh-{p}.pub').read_text().strip()}" for p in people
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def sign_config(self, signer: str) -> list[str]:
        """``-c`` settings that make git sign as ``gpg:alice`` or ``ssh:bob``."""
        kind, who = signer.split(":")
        if kind == "gpg":
            return ["-c", "gpg.format=openpgp", "-c", f"user.signingkey={self.fingerprints[who]}"]
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.folder / f'ssh-{who}.pub'}"]


class Repo:
    """A repository on ``main`` whose commits have fixed dates (deterministic ids)."""

    def __init__(self, path: Path, keys: Keys) -> None:
        self.path = path
        self.keys = keys
        self.tick = 0
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, who: str = "alice", extra_env: dict[str, str] | None = None) -> str:
        name, email = PEOPLE[who]
        self.tick += 1
        date = (START + timedelta(hours=self.tick)).isoformat()
        env = {
            "GNUPGHOME": str(self.keys.gpg_home),
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1",
            **(extra_env or {}),
        }
        return _run(["git", *args], cwd=self.path, env=env)

    def commit(
        self, files: dict[str, str], message: str, *, who: str = "alice", sign: str | None = None
    ) -> str:
        """Write ``files``, commit them (signed as ``sign``), return the commit id."""
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", rel)
        signing = [*self.keys.sign_config(sign), "commit", "-S"] if sign else ["commit"]
        self.git(*signing, "-q", "--allow-empty", "-m", message, who=who)
        return self.head()

    def merge(self, branch: str, message: str, *, who: str, sign: str | None = None) -> str:
        """A --no-ff merge of ``branch`` into the current branch."""
        signing = [*self.keys.sign_config(sign), "merge", "-S"] if sign else ["merge"]
        self.git(*signing, "-q", "--no-ff", "-m", message, branch, who=who)
        return self.head()

    def head(self) -> str:
        """The current commit id."""
        return self.git("rev-parse", "HEAD").strip()


def manifest(name: str, namespace: str, replicas: int = 1) -> str:
    """A small Deployment manifest."""
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec: {{replicas: {replicas}}}\n"
    )
