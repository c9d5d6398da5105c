"""The checks of scripts/check-deploy that need Python (run with the tools' virtualenv, which has PyYAML, the
official Dockerfile parser, docker's .dockerignore matcher and a PromQL parser). Each subcommand prints what it
found wrong to stderr and exits non-zero; scripts/check-deploy runs them."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


class Failed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Failed(message)


# ---------------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_stages(path):
    """[(stage name, base image, [commands])], with ARG defaults substituted in FROM."""
    import dockerfile

    args = {}
    stages = []
    for c in dockerfile.parse_file(str(path)):
        if c.cmd == "ARG" and not stages:
            name, _, default = c.value[0].partition("=")
            args[name] = default
            continue
        if c.cmd == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), c.value[0])
            name = c.value[2] if len(c.value) == 3 and c.value[1].upper() == "AS" else str(len(stages))
            stages.append((name, image, []))
            continue
        require(stages, f"{path}: {c.original}: before the first FROM")
        stages[-1][2].append(c)
    return stages


def context_files(ignore_file):
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in ignore_file.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return set(exclude_paths(str(ROOT), patterns))


def check_dockerfile(cargo):
    path = ROOT / "Dockerfile"
    stages = dockerfile_stages(path)
    require(len(stages) >= 2, "Dockerfile: expected a build stage and a runtime stage")
    build_name, build_image, build_cmds = stages[0]
    _, runtime_image, runtime_cmds = stages[-1]
    require(
        re.fullmatch(r"rust:[0-9.]+-bookworm", build_image),
        f"Dockerfile: build stage is {build_image}, expected the official rust:<version>-bookworm",
    )
    require("debian12" in runtime_image or "bookworm" in runtime_image,
            f"Dockerfile: runtime {runtime_image} is not Debian 12 (the build stage's glibc)")
    runs = " ".join(" ".join(c.value) for c in build_cmds if c.cmd == "RUN")
    require("cargo build --release --locked --bin idr" in runs, "Dockerfile: no `cargo build --release --locked --bin idr`")

    def last(cmds, name):
        found = [c for c in cmds if c.cmd == name]
        return found[-1] if found else None

    user = last(runtime_cmds, "USER")
    require(user is not None, "Dockerfile: the runtime stage has no USER")
    uid = user.value[0].split(":")[0]
    require(uid.isdigit() and uid != "0", f"Dockerfile: USER {user.value[0]} must be a numeric non-root uid")
    env = {}
    for c in runtime_cmds:
        if c.cmd == "ENV":
            env.update(zip(c.value[0::2], c.value[1::2]))
    listen = env.get("IDR_SERVER__LISTEN", "")
    require(listen.startswith("0.0.0.0:"), f"Dockerfile: IDR_SERVER__LISTEN={listen!r}, expected 0.0.0.0:PORT")
    port = listen.rsplit(":", 1)[1]
    expose = last(runtime_cmds, "EXPOSE")
    require(expose is not None and port in expose.value, f"Dockerfile: EXPOSE does not match port {port}")
    health = last(runtime_cmds, "HEALTHCHECK")
    require(health is not None and health.value[0] == "CMD", "Dockerfile: no HEALTHCHECK CMD")
    require(f"127.0.0.1:{port}/healthz" in " ".join(health.value), "Dockerfile: HEALTHCHECK does not probe /healthz")
    volume = last(runtime_cmds, "VOLUME")
    require(volume is not None and env.get("IDR_STORE__DATA_DIR") in volume.value,
            "Dockerfile: the embedded store's folder (IDR_STORE__DATA_DIR) is not a VOLUME")

    # What the build context holds after .dockerignore, and whether every COPY finds its sources in it.
    context = context_files(ROOT / ".dockerignore")
    require(not any(p.startswith(("deploy/", "target/", ".git/")) for p in context),
            ".dockerignore lets deploy/, target/ or .git/ into the build context")
    simulated = Path(tempfile.mkdtemp(prefix="idr-docker-build-"))
    try:
        workdir = Path("/")
        for c in build_cmds:
            if c.cmd == "WORKDIR":
                workdir = workdir / c.value[0]
            if c.cmd != "COPY" or any(f.startswith("--from=") for f in c.flags):
                continue
            *sources, dest = c.value
            for source in sources:
                require(source in context, f"Dockerfile: COPY {source}: not in the build context (.dockerignore?)")
                target = simulated / (workdir / dest).relative_to("/")
                if dest.endswith("/"):
                    target = target / Path(source).name
                if (ROOT / source).is_dir():
                    for file in sorted(context):
                        if file.startswith(source.rstrip("/") + "/") and (ROOT / file).is_file():
                            out = target / Path(file).relative_to(source)
                            out.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copy2(ROOT / file, out)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / source, target)
        for c in runtime_cmds:
            if c.cmd == "COPY" and not any(f.startswith("--from=") for f in c.flags):
                for source in c.value[:-1]:
                    require(source in context, f"Dockerfile: COPY {source}: not in the build context")
            if c.cmd == "COPY" and f"--from={build_name}" in c.flags:
                for source in c.value[:-1]:
                    require(source in runs, f"Dockerfile: COPY --from={build_name} {source}: the build stage never makes it")
        crate = simulated / (workdir.relative_to("/"))
        # Files compiled into the binary must be in the build stage.
        for rs in (crate / "src").rglob("*.rs"):
            for included in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', rs.read_text()):
                require((rs.parent / included).exists(),
                        f"Dockerfile: {rs.relative_to(crate)} includes {included}, which the build stage lacks")
        # Cargo loads the manifest and every target as `cargo build --bin idr` would, and stops before compiling:
        # asked for a binary that does not exist, it lists the ones that do.
        out = subprocess.run(
            [cargo, "build", "--locked", "--bin", "check-deploy-no-such-bin"],
            cwd=crate, capture_output=True, text=True,
            env={**os.environ, "CARGO_TARGET_DIR": str(simulated / "target"), "CARGO_TERM_COLOR": "never"},
        )
        require("no bin target named `check-deploy-no-such-bin`" in out.stderr and re.search(r"^\s+idr$", out.stderr, re.M),
                f"Dockerfile: cargo cannot load the crate as the build stage copies it:\n{out.stderr}")
    finally:
        shutil.rmtree(simulated, ignore_errors=True)
    print(f"Dockerfile: {build_image} -> {runtime_image}, user {user.value[0]}, port {port}; "
          f"{len(context)} files in the build context")


# ---------------------------------------------------------------------------------------------------- compose


def check_compose(config_json):
    config = json.loads(Path(config_json).read_text())
    services = config["services"]
    for name in ("redis", "idr", "proxy"):
        require(name in services, f"compose: no service {name}")
    idr = services["idr"]
    require(int(idr.get("deploy", {}).get("replicas", 1)) >= 2, "compose: idr needs at least two replicas")
    env = idr.get("environment", {})
    for key in ("IDR_REDIS_URL", "IDR_ADMIN_TOKEN", "IDR_RESOLVER__RESOLVER_ROOT"):
        require(env.get(key), f"compose: idr has no {key}")
    url = urllib.parse.urlsplit(env["IDR_REDIS_URL"])
    require(url.scheme in ("redis", "rediss") and url.hostname == "redis",
            "compose: IDR_REDIS_URL does not point at the redis service")
    require(url.password is None and env.get("IDR_STORE__REDIS_PASSWORD"),
            "compose: idr's Redis password belongs in IDR_STORE__REDIS_PASSWORD, not in IDR_REDIS_URL")
    redis = services["redis"]
    mounts = {m["target"]: m.get("source", "") for m in redis.get("volumes", [])}
    require(mounts.get("/usr/local/etc/redis/redis.conf", "").endswith("deploy/redis/redis.conf"),
            "compose: redis does not use deploy/redis/redis.conf")
    require("/usr/local/etc/redis/redis.conf" in redis.get("command", []), "compose: redis-server is not given redis.conf")
    require(not redis.get("ports"), "compose: Redis must not be published")
    proxy = services["proxy"]
    published = {str(p.get("target")) for p in proxy.get("ports", [])}
    require("443" in published, "compose: the proxy does not publish 443")
    print(f"compose: {', '.join(sorted(services))}; idr replicas {idr['deploy']['replicas']}")


# ---------------------------------------------------------------------------------------------------- Kubernetes


def load_docs(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def check_kubernetes(rendered):
    docs = load_docs(rendered)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret"):
        require(kind in by_kind, f"kubernetes: no {kind} rendered")
    (deployment,) = by_kind["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    require(spec.get("replicas", 1) >= 2, "kubernetes: fewer than two replicas")
    require(pod["securityContext"].get("runAsNonRoot") is True, "kubernetes: pod is not runAsNonRoot")
    sc = container["securityContext"]
    require(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
            "kubernetes: container must have a read-only root and no privilege escalation")
    require(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "kubernetes: readiness must probe /readyz")
    require(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "kubernetes: liveness must probe /healthz")
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    # idr's own shutdown: server.shutdown_drain_ms (5 s) then server.shutdown_timeout_seconds (30 s) at most.
    require(pod["terminationGracePeriodSeconds"] >= pre_stop + 5 + 30,
            "kubernetes: terminationGracePeriodSeconds must cover the preStop sleep and idr's drain and shutdown")
    (hpa,) = by_kind["HorizontalPodAutoscaler"]
    require(hpa["spec"]["minReplicas"] >= 2, "kubernetes: the HPA may scale below two replicas")

    # Every vocabulary and scheme file of the repository is in its ConfigMap, mounted under resolver.config_dir.
    config_maps = {cm["metadata"]["name"]: cm for cm in by_kind["ConfigMap"]}
    env_cm = next(cm for name, cm in config_maps.items() if name.startswith("idr-config"))
    config_dir = env_cm["data"]["IDR_RESOLVER__CONFIG_DIR"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    for folder, pattern in (("linktypes", "*.json"), ("schemes", "*.toml")):
        volume = mounts.get(f"{config_dir}/{folder}")
        require(volume and "configMap" in volume, f"kubernetes: no ConfigMap mounted at {config_dir}/{folder}")
        keys = set(config_maps[volume["configMap"]["name"]]["data"])
        files = {p.name for p in (ROOT / "resolver-config" / folder).glob(pattern)}
        require(keys == files, f"kubernetes: ConfigMap for {folder} has {sorted(keys)}, resolver-config/{folder} has {sorted(files)}")
    # --config points into the mounted Secret.
    args = container["args"]
    config_file = args[args.index("--config") + 1]
    require(any(config_file.startswith(p + "/") and "secret" in mounts[p] for p in mounts),
            f"kubernetes: --config {config_file} is not in a mounted Secret")
    print(f"kubernetes: {', '.join(sorted(f'{k} x{len(v)}' for k, v in by_kind.items()))}")


def redis_directives(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key.lower(), []).append(value.strip())
    return out


def check_redis_values():
    values = yaml.safe_load((ROOT / "deploy/kubernetes/redis/values.yaml").read_text())
    require(values.get("architecture") in ("standalone", "replication"), "redis values: architecture")
    sentinel = values.get("sentinel", {})
    require(sentinel.get("enabled") is True, "redis values: idr follows the primary through Sentinel")
    deployment = (ROOT / "deploy/kubernetes/deployment.yaml").read_text()
    require(f"redis+sentinel://idr-redis:26379/{sentinel.get('masterSet')}" in deployment,
            "redis values: sentinel.masterSet is not the master named in deployment.yaml's IDR_REDIS_URL")
    require(values.get("auth", {}).get("enabled") is True, "redis values: auth must be enabled")
    chart = redis_directives(values["commonConfiguration"])
    conf = redis_directives((ROOT / "deploy/redis/redis.conf").read_text())
    for key in ("appendonly", "appendfsync", "maxmemory-policy", "aof-use-rdb-preamble", "no-appendfsync-on-rewrite"):
        require(chart.get(key) == conf.get(key),
                f"redis values: {key} is {chart.get(key)} in the chart values, {conf.get(key)} in deploy/redis/redis.conf")
    print("redis values: durability settings match deploy/redis/redis.conf")


# ---------------------------------------------------------------------------------------------------- Grafana

METRICS = {
    "idr_resolutions_total": {"outcome", "link_type"},
    "idr_request_duration_seconds_bucket": {"route", "le"},
    "idr_cache_hits_total": set(),
    "idr_cache_misses_total": set(),
    "idr_cache_entries": set(),
    "idr_cache_bytes": set(),
    "idr_store_errors_total": {"kind"},
    "idr_store_reconnects_total": set(),
    "idr_writes_total": {"credential", "operation"},
    "idr_outbound_fetches_total": {"outcome"},
    "idr_verification_verdicts_total": {"status"},
    "idr_verification_queue_dropped_total": set(),
}
TARGET_LABELS = {"job", "instance"}
# The panels the dashboard must have: request rate by outcome, latency quantiles, cache hit ratio and size, store
# errors and reconnects, writes by credential, outbound fetches by outcome.
PANELS = ["Resolutions by outcome", "Request latency (p50 / p95 / p99)", "Cache hit ratio", "Cache hit ratio by replica",
          "Cache entries", "Cache size", "Store errors by kind", "Store reconnects", "Writes by credential",
          "Outbound fetches by outcome"]


def promql_names(expr):
    """(metric names, label names) an expression uses."""
    import promql_parser

    metrics, labels = set(), set()

    def visit(node):
        if isinstance(node, promql_parser.MatrixSelector):
            node = node.vector_selector
        if isinstance(node, promql_parser.VectorSelector):
            metrics.add(node.name)
            labels.update(m.name for m in node.matchers.matchers)
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return metrics, labels


def check_grafana():
    path = ROOT / "deploy/grafana/idr-dashboard.json"
    dash = json.loads(path.read_text())
    inputs = {i["name"]: i for i in dash.get("__inputs", [])}
    require(inputs.get("DS_PROMETHEUS", {}).get("pluginId") == "prometheus", "grafana: no DS_PROMETHEUS input")
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    require(len(ids) == len(set(ids)), "grafana: panel ids repeat")
    titles = [p["title"] for p in panels]
    require(len(titles) == len(set(titles)), "grafana: panel titles repeat")
    for title in PANELS:
        require(title in titles, f"grafana: no panel {title!r}")
    exprs = [(p["title"], t) for p in panels for t in p["targets"]]
    exprs += [("variable " + v["name"], {"expr": v["query"]["query"], "datasource": v["datasource"]})
              for v in dash["templating"]["list"]]
    used = set()
    for where, target in exprs:
        require(target["datasource"].get("uid") == "${DS_PROMETHEUS}", f"grafana: {where}: datasource is not ${{DS_PROMETHEUS}}")
        expr = target["expr"]
        lv = re.fullmatch(r"label_values\((.*?)(?:,\s*(\w+))?\)", expr)
        if lv:
            expr, label = lv.group(1), lv.group(2)
        # Grafana's variables, as Prometheus would see them after interpolation.
        expr = expr.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*").replace("$route", ".*")
        try:
            metrics, labels = promql_names(expr)
        except ValueError as e:
            raise Failed(f"grafana: {where}: {target['expr']}: {e}")
        if lv and label:
            labels.add(label)
        for m in metrics:
            require(m in METRICS, f"grafana: {where}: unknown metric {m}")
        allowed = TARGET_LABELS.union(*(METRICS[m] for m in metrics))
        require(labels <= allowed, f"grafana: {where}: labels {sorted(labels - allowed)} are not on {sorted(metrics)}")
        used |= metrics
    require(used == set(METRICS), f"grafana: metrics without a panel: {sorted(set(METRICS) - used)}")
    print(f"grafana: {len(panels)} panels, {len(exprs)} queries parse and use only the idr metrics")


# ---------------------------------------------------------------------------------------------------- idr check-config


def run_check_config(idr, label, env, args, root):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    out = subprocess.run([idr, *args], env=env, capture_output=True, text=True, cwd=root)
    require(out.returncode == 0, f"idr check-config ({label}): exit {out.returncode}\n{out.stdout}{out.stderr}")
    print(f"idr check-config ({label}): {out.stdout.strip()}")


def image_env():
    (_, _, cmds) = dockerfile_stages(ROOT / "Dockerfile")[-1]
    env = {}
    for c in cmds:
        if c.cmd == "ENV":
            env.update(zip(c.value[0::2], c.value[1::2]))
    return env


def image_path(path, root):
    """Where a path inside the image is in this checkout (the Dockerfile copies resolver-config/)."""
    if path.startswith("/etc/idr/resolver-config"):
        return str(ROOT / "resolver-config") + path[len("/etc/idr/resolver-config"):]
    if path.startswith("/var/lib/idr"):
        return str(root / "data")
    return path


def check_idr_config(idr, compose_json, rendered):
    root = Path(tempfile.mkdtemp(prefix="idr-check-config-"))
    try:
        # compose: the image's environment, then the service's.
        config = json.loads(Path(compose_json).read_text())
        env = {**image_env(), **config["services"]["idr"].get("environment", {})}
        env = {k: image_path(v, root) for k, v in env.items() if v is not None}
        run_check_config(idr, "deploy/compose.yaml", env, ["check-config"], root)

        # Kubernetes: the image's environment, the ConfigMap, the container's env (Secrets from the render, the
        # Bitnami chart's password as a placeholder), and the mounted ConfigMaps and Secret as files.
        docs = load_docs(rendered)
        objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = {k: image_path(v, root) for k, v in image_env().items()}
        for source in container.get("envFrom", []):
            env.update(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
        for var in container.get("env", []):
            if "value" in var:
                value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                secret = objects.get(("Secret", ref["name"]))
                value = base64.b64decode(secret["data"][ref["key"]]).decode() if secret else "placeholder"
            env[var["name"]] = value
        volumes = {v["name"]: v for v in pod["volumes"]}
        mount_root = root / "pod"
        for mount in container["volumeMounts"]:
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                files = {k: v.encode() for k, v in objects[("ConfigMap", volume["configMap"]["name"])]["data"].items()}
            else:
                data = objects[("Secret", volume["secret"]["secretName"])]["data"]
                files = {i["path"]: base64.b64decode(data[i["key"]]) for i in volume["secret"]["items"]}
            # The kubelet's layout: the files in a timestamped folder, ..data pointing at it, and one symlink per
            # key through ..data.
            folder = mount_root / mount["mountPath"].lstrip("/")
            stamp = folder / "..2026_01_01_00_00_00.000000000"
            stamp.mkdir(parents=True)
            (folder / "..data").symlink_to(stamp.name)
            for name, content in files.items():
                (stamp / name).write_bytes(content)
                (folder / name).symlink_to(f"..data/{name}")
        mounted = sorted((m["mountPath"] for m in container["volumeMounts"]), key=len, reverse=True)

        def in_pod(value):
            for path in mounted:
                if value == path or value.startswith(path + "/"):
                    return str(mount_root) + value
            if value.startswith(("/etc/", "/var/")):
                # Not mounted: the parent of mounted folders (resolver.config_dir) lives in the pod copy too.
                candidate = mount_root / value.lstrip("/")
                if candidate.exists():
                    return str(candidate)
            return value

        env = {k: in_pod(v) for k, v in env.items()}
        args = [in_pod(a) for a in container["args"]]
        require(args[0] == "serve", "kubernetes: the container does not run `idr serve`")
        run_check_config(idr, "deploy/kubernetes", env, ["check-config", *args[1:]], root)

        # systemd: the example config with the unit's environment.
        run_check_config(idr, "deploy/idr.example.toml",
                         {"IDR_STORE__DATA_DIR": str(root / "data")},
                         ["check-config", "--config", str(ROOT / "deploy/idr.example.toml")], root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv):
    command, *args = argv
    try:
        if command == "dockerfile":
            check_dockerfile(args[0])
        elif command == "compose":
            check_compose(args[0])
        elif command == "kubernetes":
            check_kubernetes(args[0])
        elif command == "redis-values":
            check_redis_values()
        elif command == "grafana":
            check_grafana()
        elif command == "idr-config":
            check_idr_config(*args)
        else:
            raise SystemExit(f"unknown check {command}")
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
