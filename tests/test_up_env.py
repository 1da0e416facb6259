"""What `joelclaw up` hands its children: every validated setting, list settings of paths
included (JOELCLAW_SESSIONS_PRUNE_DIRS made `up` exit at once: "Object of type PosixPath is not
JSON serializable"), read back by a real child process as the same values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from joelclaw.supervisor import child_env
from tests.conftest import make_settings
from tests.support import REPO

READ_BACK = ("import json; from joelclaw.config import load_settings; s = load_settings(); "
             "print(json.dumps({'dirs': [str(p) for p in s.sessions_prune_dirs], "
             "'modules': s.function_modules}))")


def test_a_list_of_paths_reaches_the_children_as_the_same_paths(tmp_path: Path,
                                                                redis_url: str) -> None:
    dirs = [tmp_path / "pi" / "sessions", tmp_path / "claude" / "debug"]
    settings = make_settings(tmp_path / "home", redis_url, sessions_prune_dirs=dirs)
    env = child_env(settings, redis_url)
    assert json.loads(env["JOELCLAW_SESSIONS_PRUNE_DIRS"]) == [str(d) for d in dirs]
    read = subprocess.run([sys.executable, "-c", READ_BACK], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(read.stdout) == {"dirs": [str(d) for d in dirs],
                                       "modules": settings.function_modules}
