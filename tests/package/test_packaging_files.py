#!/usr/bin/env python3
"""The container files under packaging/, checked without Docker or Kubernetes: the seccomp
profile is JSON in Docker's format and allows the three io_uring calls unconditionally; the
Dockerfile starts from debian:12-slim, runs as a non-root user, exposes 4222 and 8222 and
declares the volume /data; docker-compose.yml and the Kubernetes manifest parse as YAML
(PyYAML; that part is skipped, saying so, without it) and have the seeds' shape (ports 4222
and 8222, a Deployment and a Service); and the broker given here accepts the image's
configuration file with the flags the Dockerfile, the compose file and the manifest pass it
(`ionats -t`). Usage: test_packaging_files.py IONATS_BINARY SOURCE_ROOT; exits 0 or 1."""

import json
import os
import re
import subprocess
import sys

IO_URING_CALLS = {"io_uring_setup", "io_uring_enter", "io_uring_register"}
IMAGE_CONFIG = "/etc/ionats/ionats.conf"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def check_seccomp(path):
    with open(path) as f:
        profile = json.load(f)
    check(profile.get("defaultAction") == "SCMP_ACT_ERRNO", "seccomp: the default is not ERRNO")
    allowed = set()
    for rule in profile["syscalls"]:
        conditional = any(key in rule for key in ("args", "includes", "excludes"))
        if rule.get("action") == "SCMP_ACT_ALLOW" and not conditional:
            allowed.update(rule["names"])
    check(IO_URING_CALLS <= allowed, f"seccomp: {IO_URING_CALLS - allowed} not allowed")
    # the rest of Docker's default: the calls any program needs, and ptrace not for everyone
    for name in ("read", "write", "epoll_wait", "fdatasync", "mmap", "socket"):
        check(any(name in rule["names"] for rule in profile["syscalls"]), f"seccomp: no {name}")
    check("mount" not in allowed, "seccomp: mount allowed without CAP_SYS_ADMIN")
    print(f"seccomp profile: {len(profile['syscalls'])} rules, io_uring allowed")


def dockerfile_entrypoint(path):
    """Checks the Dockerfile's shape; returns its ENTRYPOINT + CMD as one argv."""
    with open(path) as f:
        text = f.read().replace("\\\n", "")  # continuation lines joined, as Docker does
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    check(stages and stages[-1] == "debian:12-slim", f"Dockerfile: final stage is {stages}")
    users = re.findall(r"^USER (\S+)", text, re.M)
    check(users and not users[-1].startswith(("root", "0")), f"Dockerfile: USER is {users}")
    check(re.search(r"^EXPOSE 4222 8222$", text, re.M), "Dockerfile: no EXPOSE 4222 8222")
    check(re.search(r"^VOLUME /data$", text, re.M), "Dockerfile: no VOLUME /data")
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    check(entrypoint and cmd, "Dockerfile: no exec-form ENTRYPOINT and CMD")
    healthcheck = re.search(r"^HEALTHCHECK .* CMD (\[\"bash\".*\])$", text, re.M)
    check(healthcheck, "Dockerfile: no HEALTHCHECK command")
    json.loads(healthcheck.group(1))
    return json.loads(entrypoint.group(1)) + json.loads(cmd.group(1))


def check_yaml(compose_path, kubernetes_path):
    """Returns the flags the compose file and the Deployment pass, or [] without PyYAML."""
    try:
        import yaml
    except ImportError:
        print("SKIP the YAML checks: PyYAML is not installed (apt-get install python3-yaml)")
        return []
    with open(compose_path) as f:
        compose = yaml.safe_load(f)
    service = compose["services"]["nats"]
    check({"4222:4222", "8222:8222"} <= set(service["ports"]), f"compose: ports {service['ports']}")
    check(any(v.endswith(":/data") for v in service["volumes"]), "compose: no volume on /data")
    seccomp = [o for o in service.get("security_opt", []) if o.startswith("seccomp=")]
    check(seccomp, "compose: no seccomp profile")
    profile = os.path.join(os.path.dirname(compose_path), seccomp[0].split("=", 1)[1])
    check(os.path.isfile(profile), f"compose: {profile} is not there")

    with open(kubernetes_path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    kinds = {d["kind"]: d for d in documents}
    check("Deployment" in kinds and "Service" in kinds, f"kubernetes: kinds {list(kinds)}")
    deployment, service_k8s = kinds["Deployment"], kinds["Service"]
    pod = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    check(selector.items() <= pod["metadata"]["labels"].items(), "kubernetes: selector misses pods")
    check(service_k8s["spec"]["selector"] == selector, "kubernetes: the Service selects other pods")
    ports = {p["port"] for p in service_k8s["spec"]["ports"]}
    check({4222, 8222} <= ports, f"kubernetes: Service ports {ports}")
    container = pod["spec"]["containers"][0]
    check(pod["spec"]["securityContext"].get("runAsNonRoot") is True, "kubernetes: may run as root")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    check("/data" in mounts, "kubernetes: nothing mounted on /data")
    print("docker-compose.yml and the Kubernetes manifest: ok")
    return [service["command"], container["args"]]


def check_flags(binary, config, flag_lists):
    for flags in flag_lists:
        result = subprocess.run([binary, "-t", "-c", config] + flags, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=10)
        check(result.returncode == 0, f"ionats -t -c {config} {' '.join(flags)}:\n{result.stdout}")
    print(f"the image's configuration with {len(flag_lists)} sets of flags: accepted")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, root = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    docker = os.path.join(root, "packaging", "docker")
    try:
        check_seccomp(os.path.join(docker, "seccomp-ionats.json"))
        argv = dockerfile_entrypoint(os.path.join(docker, "Dockerfile"))
        check(argv[:3] == ["/usr/bin/ionats", "-c", IMAGE_CONFIG], f"Dockerfile: runs {argv}")
        print(f"Dockerfile: ok, runs {' '.join(argv)}")
        flag_lists = [argv[3:]] + check_yaml(os.path.join(docker, "docker-compose.yml"),
                                             os.path.join(root, "packaging", "kubernetes",
                                                          "ionats.yaml"))
        check_flags(binary, os.path.join(docker, "ionats.conf"), flag_lists)
    except (Failure, KeyError, TypeError, ValueError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
