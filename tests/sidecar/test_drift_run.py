"""`birdgen run` as a real process against a real BIRD: drift behind its back is logged, shown
in /readyz (still 200) and /metrics within one --drift-interval, and healed by the next apply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from conftest import NODE, Bird
from test_cli_run import MANIFEST, PROXY_VARS, free_port
from waiting import wait_for

INTERVAL = 0.5


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening yet


def test_drift_made_by_hand_is_reported_and_healed(bird: Bird, tmp_path: Path) -> None:
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(MANIFEST)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "birdgen", "run", "-f", str(manifests), "-o", str(bird.conf),
            "--node", NODE, "--control-socket", bird.sock, "--metrics-addr", f"127.0.0.1:{port}",
            "--log-format", "json", "--drift-interval", str(INTERVAL), "--verify-timeout", "5"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    stderr = tmp_path / "stderr"

    def events() -> list[dict[str, str]]:
        return [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]

    def drift_gauge() -> str:
        return get(url + "/metrics")[1]

    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)  # fmt: skip
    try:
        wait_for(lambda: get(url + "/readyz") == (200, "ready\ndrift: none, BIRD runs the plan\n"),
                 timeout=30, what="ready and in step")  # fmt: skip
        assert 'birdgen_drift_prefixes{kind="missing",peer="svc4"} 0.0' in drift_gauge()
        good = bird.conf.read_text()

        # Behind birdgen's back: the file edited by hand, without the route, and reloaded.
        bird.conf.write_text(good.replace("  route 10.49.0.0/16 blackhole;\n", ""))
        with bird.control() as ctl:
            assert ctl.configure(str(bird.conf)).ok
        wait_for(lambda: any(e.get("event") == "drift" for e in events()), timeout=INTERVAL + 10,
                 what="a drift log line")  # fmt: skip
        [line] = [e for e in events() if e.get("event") == "drift"]
        assert line["prefixes"] == "10.49.0.0/16" and line["count"] == "1"
        assert "missing 10.49.0.0/16 at svc4" in line["msg"]

        # birdgen owns the file: the next apply puts it back and BIRD routes the range again.
        wait_for(lambda: "10.49.0.0/16" in bird.routes(), timeout=INTERVAL + 10, what="healed")
        wait_for(lambda: any(e.get("event") == "drift_healed" for e in events()), timeout=10,
                 what="the drift healed")  # fmt: skip
        assert bird.conf.read_text() == good
        assert get(url + "/readyz") == (200, "ready\ndrift: none, BIRD runs the plan\n")
        assert 'birdgen_drift_prefixes{kind="missing",peer="svc4"} 0.0' in drift_gauge()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
