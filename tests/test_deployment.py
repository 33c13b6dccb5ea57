"""docker-compose.yml agrees with the code: services, pinned images, the settings the code reads, the
search attributes the workflows upsert. (No Docker engine runs here; this is what can be checked.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from workflows import search_attributes as sa

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def settings_read_by_code() -> set[str]:
    found: set[str] = set()
    for module in ("models/settings.py", "activities/storage/object_store.py"):
        source = (ROOT / module).read_text()
        found |= set(re.findall(r'_env\("([A-Z0-9_]+)"', source)) | set(
            re.findall(r'environ\.get\("([A-Z0-9_]+)"', source)
        )
    return found | BOTO3_READS


# boto3 reads the store's credentials itself (its standard environment variables).
BOTO3_READS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_the_production_services_are_all_there() -> None:
    assert {
        "postgresql", "seaweedfs", "temporal", "search-attributes", "temporal-ui", "codec-server", "worker"
    } <= set(SERVICES)  # fmt: skip
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2, "workers scale by replicas"
    assert SERVICES["search-attributes"]["restart"] == "no", "a one-shot"
    assert (
        SERVICES["worker"]["depends_on"]["search-attributes"]["condition"] == "service_completed_successfully"
    )


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
        else:
            assert service.get("build") == ".", f"{name}: built from this repository"


def test_every_application_variable_is_one_the_code_reads() -> None:
    known = settings_read_by_code()
    env = SERVICES["worker"]["environment"]
    assert set(env) <= known, f"compose sets variables the code never reads: {sorted(set(env) - known)}"
    # Production refuses to start without these (models/settings.py): compose must demand them.
    for required in (
        "FINGERPRINT_SECRET",
        "CODEC_KEYS",
        "CREDENTIAL_KEYS",
        "CODEC_SERVER_TOKEN",
        "DATABASE_URL",
    ):
        assert required in env
    assert env["SELLER_ENV"] == "production"
    assert (
        env["DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgresql:5432/" in env["DATABASE_URL"]
    )
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert SERVICES["codec-server"]["environment"]["CODEC_KEYS"] == env["CODEC_KEYS"]


def test_the_one_shot_registers_exactly_the_workflows_search_attributes() -> None:
    command = " ".join(SERVICES["search-attributes"]["command"])
    declared = dict(re.findall(r"(\w+)=(KeywordList|Keyword|Int|Bool|Text|Double|Datetime)\b", command))
    expected = {key.name: sa.cli_type(key) for key in sa.ALL}
    assert declared == expected


def test_the_ui_calls_the_codec_server_and_the_commands_exist() -> None:
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].removesuffix("}").endswith(":8081")
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true", "operators' codec sign-in rides on cookies"
    codec = SERVICES["codec-server"]["environment"]
    assert "*" not in codec["CODEC_UI_ORIGINS"], "credentials are never allowed from any origin"
    assert codec["CODEC_SESSION_SECRET"].startswith("${CODEC_SESSION_SECRET:?"), "compose must demand it"
    for name in ("worker", "codec-server"):
        script = SERVICES[name]["command"][1]
        assert (ROOT / script).is_file(), f"{name} runs {script}, which does not exist"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock" in dockerfile and "uv sync --frozen --no-dev" in dockerfile


def published(service: str) -> list[str]:
    return [str(p) for p in SERVICES[service].get("ports", [])]


# seaweedfs: other services upload to pre-signed URLs (README, "Past one machine"), so it is reachable too.
PUBLISHED = ("temporal", "temporal-ui", "codec-server", "prometheus", "grafana", "seaweedfs")


def test_frontend_ui_and_codec_server_publish_on_loopback_by_default() -> None:
    for name in PUBLISHED:
        ports = published(name)
        assert ports, f"{name} publishes a port"
        for port in ports:
            # host:container with the host part defaulting to loopback, never every interface.
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name} publishes {port} beyond loopback"
    for name, service in SERVICES.items():
        if name not in PUBLISHED:
            assert not service.get("ports"), f"{name} needs no published port"


def test_the_ui_write_actions_are_off_unless_oidc_is_configured() -> None:
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "${UI_DISABLE_WRITE_ACTIONS:-true}"
    assert ui["TEMPORAL_AUTH_ENABLED"] == "${UI_AUTH_ENABLED:-false}"


def cert_paths(text: str) -> set[str]:
    return set(re.findall(r"/certs/([\w.-]+)", text))


def test_the_frontend_takes_mutual_tls_only_with_the_certificates_the_generator_makes(tmp_path: Path) -> None:
    from cryptography import x509

    from devtools import tls_certs

    server = SERVICES["temporal"]["environment"]
    assert server["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true", "no client certificate, no call"
    assert server["TEMPORAL_TLS_CLIENT1_CA_CERT"] == "/certs/ca.pem"
    assert server["TEMPORAL_TLS_FRONTEND_CERT"] == "/certs/frontend.pem"
    assert server["TEMPORAL_TLS_FRONTEND_DISABLE_HOST_VERIFICATION"] == "false"
    # Every service that calls the frontend presents a client certificate and checks the server's name.
    callers = {
        "worker": SERVICES["worker"]["environment"],
        "temporal-ui": SERVICES["temporal-ui"]["environment"],
        "temporal (its own setup)": server,
    }
    for name, env in callers.items():
        assert env["TEMPORAL_TLS_CA"] == "/certs/ca.pem", name
        assert env["TEMPORAL_TLS_CERT"].startswith("/certs/") and env["TEMPORAL_TLS_KEY"].startswith(
            "/certs/"
        )
        assert env["TEMPORAL_TLS_SERVER_NAME"] == "temporal", name
    for name, text in (
        ("search-attributes", " ".join(SERVICES["search-attributes"]["command"])),
        ("temporal healthcheck", " ".join(SERVICES["temporal"]["healthcheck"]["test"])),
    ):
        for flag in ("--tls-ca-path", "--tls-cert-path", "--tls-key-path", "--tls-server-name temporal"):
            assert flag in text, f"{name} calls the frontend without {flag}"
    # The codec server's review pages call Temporal with their own certificate (evidence/page.py).
    codec = SERVICES["codec-server"]["environment"]
    assert (codec["TEMPORAL_TLS_CERT"], codec["TEMPORAL_TLS_KEY"]) == ("/certs/codec.pem", "/certs/codec.key")
    # Mounted read-only wherever a certificate is named.
    for name in ("temporal", "search-attributes", "temporal-ui", "worker", "codec-server"):
        mounts = [str(v) for v in SERVICES[name].get("volumes", [])]
        assert any(m.endswith(":/certs:ro") for m in mounts), f"{name} does not mount /certs read-only"
    # The files compose names are the ones devtools/tls_certs.py writes, and they fit together: the
    # frontend's certificate carries the name the callers check, each caller's chains to the CA.
    tls_certs.write_set(tmp_path)
    named = cert_paths((ROOT / "docker-compose.yml").read_text())
    assert named and named <= {p.name for p in tmp_path.iterdir()}, sorted(named)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    frontend = x509.load_pem_x509_certificate((tmp_path / "frontend.pem").read_bytes())
    sans = frontend.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "temporal" in sans.get_values_for_type(x509.DNSName)
    for file in named:
        if file.endswith(".pem") and file != "ca.pem":
            x509.load_pem_x509_certificate((tmp_path / file).read_bytes()).verify_directly_issued_by(ca)
def test_workers_share_only_temporal_postgres_with_pgvector_and_the_object_store() -> None:
    """Past one machine (README, Deployment): blobs in the S3 store, not a volume the workers share;
    PostgreSQL with pgvector for the known-faces index; the store's bucket and credentials the same on
    both sides."""
    worker, store, pg = SERVICES["worker"], SERVICES["seaweedfs"], SERVICES["postgresql"]
    env = worker["environment"]
    # Workers keep nothing of their own (blobs are in the object store): their one mount is the TLS
    # client certificate, read-only.
    assert all(v.endswith(":/certs:ro") for v in worker.get("volumes", [])), worker.get("volumes")
    assert pg["image"].startswith("pgvector/pgvector:") and "-pg" in pg["image"]
    assert store["image"].startswith("chrislusf/seaweedfs:")
    bucket = env["BLOB_STORE_URL"].removeprefix("s3://").split("/")[0]
    assert f"-bucket={bucket}" in store["command"]
    host, port = env["S3_ENDPOINT_URL"].removeprefix("http://").split(":")
    assert host == "seaweedfs" and any(p.endswith(f":{port}:{port}") for p in store["ports"])
    assert store["environment"]["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY_ID"]
    assert store["environment"]["AWS_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"]
    assert worker["depends_on"]["seaweedfs"]["condition"] == "service_healthy"
    # The code reads the bucket URL the way compose writes it.
    from activities.storage.object_store import S3Store, store_from_url

    made = store_from_url(env["BLOB_STORE_URL"], ROOT)
    assert isinstance(made, S3Store) and made.bucket == bucket


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_prometheus_scrapes_each_service_where_it_serves_metrics() -> None:
    prometheus = SERVICES["prometheus"]
    mounts = {dst: src for src, dst, *_ in (v.split(":") for v in prometheus["volumes"])}
    config_path = ROOT / mounts["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_path.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_port = _port(SERVICES["worker"]["environment"]["METRICS_ADDRESS"])
    assert jobs["worker"]["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": worker_port}
    codec_port = _port(SERVICES["codec-server"]["environment"]["METRICS_ADDRESS"])
    assert jobs["codec-server"]["static_configs"][0]["targets"] == [f"codec-server:{codec_port}"]
    # Metrics stay inside the network: neither service publishes its metrics port.
    assert not any(str(worker_port) in p for p in SERVICES["worker"].get("ports", []))
    assert not any(str(codec_port) in p for p in published("codec-server"))


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard_in_this_repository() -> None:
    grafana = SERVICES["grafana"]
    mounts = {dst: ROOT / src for src, dst, *_ in (v.split(":") for v in grafana["volumes"])}
    provisioning, dashboards = mounts["/etc/grafana/provisioning"], mounts["/var/lib/grafana/dashboards"]
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    provider = yaml.safe_load((provisioning / "dashboards" / "seller-platform.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (dashboards / "seller-platform.json").is_file()
    assert "GRAFANA_ADMIN_PASSWORD" in grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_the_dashboard_queries_only_metrics_the_code_exports() -> None:
    import json

    from models import metrics

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "seller-platform.json").read_text())
    exported = {m.exported for m in metrics.ALL} | set(metrics.SDK_METRICS)
    series = exported | {f"{name}_{part}" for name in exported for part in ("bucket", "sum", "count")}
    functions = {"sum", "max", "by", "rate", "increase", "histogram_quantile", "le", "without"}
    named = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus"
        for target in panel["targets"]:
            expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", target["expr"])
            named |= {w for w in re.findall(r"[a-z_][a-z0-9_]*", expr) if w not in functions}
    labels = {label for m in metrics.ALL for label in m.labels} | {"worker_type", "workflow_type"}
    metric_names = named - labels
    assert metric_names and metric_names <= series, sorted(metric_names - series)
    # Every business metric but the codec's has a panel (the codec's too: one panel for both).
    assert {m.exported for m in metrics.ALL} <= {n.removesuffix("_bucket") for n in metric_names}
