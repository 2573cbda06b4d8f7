#!/usr/bin/env python3
"""The Debian package, built and run: scripts/package.sh packages the ionats meson built for
this test run (--binary, so no release build here), the .deb is unpacked with dpkg-deb -x
into a temporary root, its files and control data are checked, and the unpacked binary is
started with the packaged /etc/ionats/ionats.conf, overridden by flags onto free loopback
ports with its JetStream store in a temporary directory. A raw socket reads INFO and gets a
PONG for its PING, /varz and /healthz are read from the monitoring port, and the broker is
stopped by its PID with SIGTERM (it must drain and exit 0). Last, `systemd-analyze verify`
checks the unit, its ExecStart pointed at the unpacked binary (skipped, saying so, where
systemd-analyze is missing).

Usage: test_package.py IONATS_BINARY SOURCE_ROOT. Exits 0 on success, 1 on a failure, 77
(meson: SKIP) when dpkg-deb is missing. Loopback only; every wait has a deadline; only the
broker this test started is signalled."""

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
# package.sh with a prebuilt binary takes about a second; 60 s is for a loaded CI machine.
PACKAGE_TIMEOUT_S = 60
# From exec to the client port accepting: milliseconds normally; JetStream opens its store.
START_TIMEOUT_S = 10
# SIGTERM drains within a second (README); more is a failure, then SIGKILL.
STOP_TIMEOUT_S = 5
IO_TIMEOUT_S = 5
# A free port picked by bind(0) may be taken before the broker binds it: try again.
START_ATTEMPTS = 3

EXPECTED_FILES = [
    "usr/bin/ionats",
    "usr/share/man/man1/ionats.1.gz",
    "lib/systemd/system/ionats.service",
    "etc/ionats/ionats.conf",
    "usr/share/doc/ionats/copyright",
    "usr/share/doc/ionats/changelog.gz",
]
# What the unit must say (issue 12: a dedicated user, LimitNOFILE, StateDirectory).
UNIT_LINES = [
    "User=ionats",
    "Group=ionats",
    "ExecStart=/usr/bin/ionats -c /etc/ionats/ionats.conf",
    "StateDirectory=ionats",
    "SystemCallFilter=@system-service",
]


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(argv, timeout_s, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout_s, **kwargs)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_package(binary, source_root, out_dir):
    result = run([os.path.join(source_root, "scripts", "package.sh"), "--binary", binary,
                  "--out", out_dir, "--no-install"], PACKAGE_TIMEOUT_S)
    check(result.returncode == 0, f"package.sh failed ({result.returncode}):\n{result.stdout}")
    lines = result.stdout.strip().splitlines()
    check(lines and lines[-1].endswith(".deb"), f"package.sh printed no .deb:\n{result.stdout}")
    deb = lines[-1]
    check(os.path.isfile(deb), f"{deb} is not there")
    print(f"built {os.path.basename(deb)}, {os.path.getsize(deb)} bytes")
    return deb


def check_contents(deb, root, control_dir):
    result = run(["dpkg-deb", "-x", deb, root], 30)
    check(result.returncode == 0, f"dpkg-deb -x failed:\n{result.stdout}")
    result = run(["dpkg-deb", "-e", deb, control_dir], 30)
    check(result.returncode == 0, f"dpkg-deb -e failed:\n{result.stdout}")
    for path in EXPECTED_FILES:
        check(os.path.isfile(os.path.join(root, path)), f"the package has no /{path}")
    check(os.access(os.path.join(root, "usr/bin/ionats"), os.X_OK),
          "/usr/bin/ionats is not executable")

    with gzip.open(os.path.join(root, "usr/share/man/man1/ionats.1.gz"), "rt") as f:
        man = f.read()
    for needle in (".TH IONATS 1", ".SH OPTIONS", "store_dir", ".SH FILES"):
        check(needle in man, f"the man page has no {needle!r}")

    with open(os.path.join(root, "lib/systemd/system/ionats.service")) as f:
        unit = f.read().splitlines()
    for line in UNIT_LINES:
        check(line in unit, f"the unit has no line {line!r}")
    check(any(line.startswith("LimitNOFILE=") for line in unit), "the unit sets no LimitNOFILE")

    with open(os.path.join(control_dir, "control")) as f:
        control = dict(line.split(": ", 1) for line in f.read().splitlines()
                       if ": " in line and not line.startswith(" "))
    check(control.get("Package") == "ionats", f"control: Package is {control.get('Package')!r}")
    depends = control.get("Depends", "")
    for dep in ("liburing2", "adduser"):
        check(dep in depends, f"control: Depends ({depends}) has no {dep}")
    with open(os.path.join(control_dir, "conffiles")) as f:
        check("/etc/ionats/ionats.conf" in f.read().split(),
              "conffiles lacks /etc/ionats/ionats.conf")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control_dir, script)
        check(os.access(path, os.X_OK), f"DEBIAN/{script} is missing or not executable")
        result = run(["sh", "-n", path], 10)
        check(result.returncode == 0, f"DEBIAN/{script} is not valid sh:\n{result.stdout}")
    with open(os.path.join(control_dir, "postinst")) as f:
        check("adduser --system" in f.read(), "postinst does not make the system user")

    binary = os.path.join(root, "usr/bin/ionats")
    config = os.path.join(root, "etc/ionats/ionats.conf")
    result = run([binary, "-t", "-c", config], 10)
    check(result.returncode == 0, f"ionats -t refuses the packaged config:\n{result.stdout}")


def wait_for_port(proc, port, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def read_line(sock, deadline):
    data = b""
    while not data.endswith(b"\r\n"):
        check(time.monotonic() < deadline, f"no full line from the broker, got {data!r}")
        chunk = sock.recv(4096)
        check(chunk, f"the broker closed the connection after {data!r}")
        data += chunk
    return data.decode()


def ping_pong(port):
    deadline = time.monotonic() + IO_TIMEOUT_S
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as sock:
        info = read_line(sock, deadline)
        check(info.startswith("INFO {"), f"the first line is not INFO: {info!r}")
        fields = json.loads(info[len("INFO "):])
        check(fields.get("port") == port, f"INFO port is {fields.get('port')}, not {port}")
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        reply = read_line(sock, deadline)
        check(reply == "PONG\r\n", f"PING got {reply!r}, not PONG")


def http_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=IO_TIMEOUT_S) as r:
        check(r.status == 200, f"GET {path}: status {r.status}")
        return json.loads(r.read())


def query_monitoring(http_port, client_port, store_dir):
    varz = http_get(http_port, "/varz")
    check(varz.get("port") == client_port, f"/varz port is {varz.get('port')}")
    check(varz.get("http_port") == http_port, f"/varz http_port is {varz.get('http_port')}")
    js_config = varz.get("jetstream", {}).get("config", {})
    check(js_config.get("store_dir", "").startswith(store_dir),
          f"/varz jetstream store_dir is {js_config.get('store_dir')!r}, not under {store_dir}")
    health = http_get(http_port, "/healthz")
    check(health.get("status") == "ok", f"/healthz says {health}")
    print(f"/varz: server {varz.get('server_id', '?')[:12]}..., version {varz.get('version')}, "
          f"jetstream store {js_config.get('store_dir')}; /healthz ok")


def stop(proc):
    """SIGTERM to the broker this test started; SIGKILL if it does not drain in time."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)
        raise Failure(f"the broker did not stop within {STOP_TIMEOUT_S} s of SIGTERM")


def run_installed(root, scratch):
    binary = os.path.join(root, "usr/bin/ionats")
    config = os.path.join(root, "etc/ionats/ionats.conf")
    store_dir = os.path.join(scratch, "store")
    log_path = os.path.join(scratch, "ionats.log")
    for attempt in range(1, START_ATTEMPTS + 1):
        client_port, http_port = free_port(), free_port()
        # The packaged file listens on every interface and stores in /var/lib/ionats: the
        # flags keep this run on the loopback and in the scratch directory.
        argv = [binary, "-c", config, "-a", "127.0.0.1", "-p", str(client_port),
                "--http_host", "127.0.0.1", "-m", str(http_port), "-sd", store_dir]
        with open(log_path, "w") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            if wait_for_port(proc, client_port, time.monotonic() + START_TIMEOUT_S):
                ping_pong(client_port)
                print(f"PING/PONG on 127.0.0.1:{client_port}")
                query_monitoring(http_port, client_port, store_dir)
                rc = stop(proc)
                check(rc == 0, f"the broker exited {rc} after SIGTERM")
                return
        finally:
            if proc.poll() is None:
                stop(proc)
        with open(log_path) as log:
            output = log.read()
        if attempt == START_ATTEMPTS or "in use" not in output.lower():
            raise Failure(f"the broker did not start (exit {proc.returncode}):\n{output}")
        print(f"attempt {attempt}: a port was taken, trying others")


def verify_unit(root, scratch):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed")
        return
    with open(os.path.join(root, "lib/systemd/system/ionats.service")) as f:
        unit = f.read()
    # verify wants ExecStart's binary to exist: point it at the unpacked one.
    unit = unit.replace("/usr/bin/ionats", os.path.join(root, "usr/bin/ionats"))
    unit_path = os.path.join(scratch, "ionats.service")
    with open(unit_path, "w") as f:
        f.write(unit)
    # --man=no: the man page is checked above; man itself may be missing here.
    result = run([analyze, "verify", "--man=no", unit_path], 30)
    check(result.returncode == 0 and not result.stdout.strip(),
          f"systemd-analyze verify ({result.returncode}):\n{result.stdout}")
    print("systemd-analyze verify: ok")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, source_root = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    if shutil.which("dpkg-deb") is None:
        print("SKIP: dpkg-deb is not installed (not a Debian system)")
        return SKIP
    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="ionats-package-test-")
    try:
        deb = build_package(binary, source_root, os.path.join(scratch, "out"))
        root = os.path.join(scratch, "root")
        check_contents(deb, root, os.path.join(scratch, "control"))
        print("package contents: ok")
        run_installed(root, scratch)
        verify_unit(root, scratch)
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"ok in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
