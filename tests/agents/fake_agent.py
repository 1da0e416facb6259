"""A stand-in for a coding-agent CLI (codex exec, claude -p): reads the task from its argument
or stdin, prints a result, and behaves as the task says.

    SLEEP:<n>  starts a child that sleeps too (a tool's helper process), writes
               "<own pid> <child pid>" to $FAKE_AGENT_PIDS/<request id>.pids, sleeps n s
    FAIL       writes to stderr and exits 3
"""

import os
import re
import subprocess
import sys
import time


def main() -> int:
    task = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    request_id = os.environ.get("JOELCLAW_AGENT_REQUEST_ID", "?")
    print(f"agent {os.environ.get('JOELCLAW_AGENT_TOOL')} on {request_id} "
          f"(timeout {os.environ.get('JOELCLAW_AGENT_TIMEOUT')})", flush=True)
    print(f"task: {task.strip()}", flush=True)
    settings = sorted(k for k in os.environ if k.startswith("JOELCLAW_")
                      and not k.startswith("JOELCLAW_AGENT_"))
    print(f"joelclaw settings seen: {settings}", flush=True)
    sleep = re.search(r"SLEEP:(\d+)", task)
    if sleep:
        seconds = sleep.group(1)
        child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
        folder = os.environ["FAKE_AGENT_PIDS"]
        tmp = os.path.join(folder, f".{request_id}.tmp")
        with open(tmp, "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}")
        os.replace(tmp, os.path.join(folder, f"{request_id}.pids"))
        time.sleep(int(seconds))
    if "FAIL" in task:
        print("could not fix it", file=sys.stderr)
        return 3
    print("RESULT: fixed the build", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
