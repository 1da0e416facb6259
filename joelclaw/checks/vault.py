"""`check/vault-sync` (reference #24): the notes folder `JOELCLAW_VAULT_DIR` is a git work tree;
uncommitted changes are committed (`vault: auto-commit ...`), and pushed when
`JOELCLAW_VAULT_PUSH` is on. A folder that is not a repository, a failed commit or push, or a
branch diverged from its upstream is actionable; unset, the check skips. git is
`JOELCLAW_VAULT_GIT_COMMAND` (default `git`), always run with `-C <folder>`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw.checks import commands

if TYPE_CHECKING:
    from joelclaw.config import Settings

READS = frozenset({"status", "rev-parse", "rev-list"})  # git verbs that change nothing


def _git(settings: Settings, *args: str) -> commands.Result:
    folder = str(settings.checks.vault_dir.expanduser()) if settings.checks.vault_dir else "."
    return commands.run(settings.checks.vault_git_command, "-C", folder, *args,
                        timeout=settings.checks.command_timeout_seconds,
                        effect="read" if args[0] in READS else "write")


def sync(settings: Settings, now: float | None = None) -> dict[str, Any]:
    """`{status, changes, ahead, behind, detail}`; status skipped | clean | committed |
    pushed | failed | diverged (the last two are actionable)."""
    if settings.checks.vault_dir is None:
        return {"status": "skipped", "detail": "JOELCLAW_VAULT_DIR is not set"}
    folder = settings.checks.vault_dir.expanduser()
    if not folder.is_dir():
        return {"status": "failed", "detail": f"{folder} does not exist"}
    try:
        return _sync(settings, now or time.time())
    except commands.CommandError as exc:
        return {"status": "failed", "detail": str(exc)}


def _sync(settings: Settings, now: float) -> dict[str, Any]:
    status = _git(settings, "status", "--porcelain")
    if not status.ok:
        return {"status": "failed", "detail": f"git status: {status.stderr.strip()[:300]}"}
    changes = [line for line in status.stdout.splitlines() if line.strip()]
    out: dict[str, Any] = {"status": "clean", "changes": len(changes)}
    if changes:
        added = _git(settings, "add", "-A")
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(now))
        committed = added.ok and _git(settings, "commit", "-q", "-m",
                                      f"vault: auto-commit {stamp} UTC ({len(changes)} changes)")
        if not added.ok or not committed or not committed.ok:
            failed = added if not added.ok else committed
            detail = (failed.stderr or failed.stdout).strip()[:300] if failed else ""
            return {**out, "status": "failed", "detail": f"git commit: {detail}"}
        out["status"] = "committed"
    upstream = _git(settings, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}")
    if upstream.ok:
        counts = _git(settings, "rev-list", "--left-right", "--count", "@{u}...HEAD")
        if counts.ok:
            behind, ahead = (int(x) for x in counts.stdout.split()[:2])
            out.update(behind=behind, ahead=ahead)
            if behind and ahead:
                return {**out, "status": "diverged",
                        "detail": f"{ahead} local and {behind} upstream commit(s)"}
            if ahead and settings.checks.vault_push:
                pushed = _git(settings, "push", "-q")
                if not pushed.ok:
                    return {**out, "status": "failed",
                            "detail": f"git push: {pushed.stderr.strip()[:300]}"}
                out["status"] = "pushed"
    return out


def describe(result: dict[str, Any], settings: Settings) -> str:
    icon = "🔀" if result["status"] == "diverged" else "❌"
    return (f"{icon} **Vault sync {result['status']}** ({settings.checks.vault_dir}): "
            f"{result.get('detail', '')}")
