"""What a `birdgen run` of the cluster alone imports: not what it never uses.

Imported modules stay in a long-lived process's memory. At 1,000 nodes about a third of the
sidecar's steady RSS was modules (docs/performance.md): the `kubernetes` client's generated
API classes import some 250 model classes each, which a source that reads every response raw
never touches, and the file source's YAML and regex libraries and watchdog are of no use to a
sidecar without `-f`. Here the real process runs against the API double and a real BIRD under
`python -X importtime`, which logs every module as it is first imported, lazily or not, until
the sidecar has applied its config and stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import NODE, Bird, populate
from kubeapi_server import FakeApiServer
from test_cli_run import PROXY_VARS, free_port, readyz
from waiting import wait_for

# Module prefixes the cluster-only sidecar must not import, and why it has no use for them.
UNUSED = {
    "kubernetes.client.api.": "the generated API classes (their models)",
    "kubernetes.client.models.": "the generated models: every response is read raw",
    "yaml_rs": "the file source's YAML reader",
    "re2": "the file source's safe regular expressions",
    "watchdog": "the file watcher",
    "birdgen.sources.files": "the file source",
}


def imported(stderr: str) -> set[str]:
    """The modules named by `-X importtime`'s lines: `import time: self | cumulative | name`."""
    return {
        line.rpartition("|")[2].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def test_a_cluster_sidecar_imports_neither_the_client_models_nor_the_file_readers(
    api: FakeApiServer, bird: Bird, tmp_path: Path
) -> None:
    populate(api)
    port = free_port()
    argv = [sys.executable, "-X", "importtime", "-m", "birdgen", "run",
            "--kubeconfig", str(api.kubeconfig(tmp_path / "kubeconfig")), "--node", NODE,
            "-o", str(bird.conf), "--control-socket", bird.sock, "--bird", "/usr/sbin/bird",
            "--metrics-addr", f"127.0.0.1:{port}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)  # fmt: skip
    try:
        wait_for(lambda: "10.49.0.10/32" in bird.routes(), timeout=30, what="BIRD routes web's /32")
        wait_for(lambda: readyz(f"http://127.0.0.1:{port}") == 200, what="/readyz answers 200")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    modules = imported(stderr.read_text())
    assert "birdgen.sources.kube" in modules and "kubernetes.client" in modules  # the log works
    unused = {m: why for m in modules for prefix, why in UNUSED.items() if m.startswith(prefix)}
    assert not unused, unused
