"""seller_client.connect with mutual TLS (TEMPORAL_TLS_*), for real: a TLS endpoint that demands a
client certificate, in front of the dev server (tests/tls_proxy.py says what that proves and what not).
Certificates come from devtools/tls_certs.py, as an operator would make them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools import tls_certs
from models.settings import Settings, SettingsError, load_settings, settings
from tests.tls_proxy import MutualTlsProxy


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs") / "tls"
    tls_certs.write_set(out)
    # A second CA nobody trusts, with a client certificate of its own.
    stranger = tls_certs.make_ca("stranger CA")
    leaf = tls_certs.issue(stranger, "stranger")
    (out / "stranger.pem").write_bytes(leaf.cert_pem)
    (out / "stranger.key").write_bytes(leaf.key_pem)
    (out / "stranger-ca.pem").write_bytes(stranger.pem)
    return out


@pytest_asyncio.fixture
async def frontend(dev_env: WorkflowEnvironment, certs: Path) -> AsyncIterator[tuple[str, MutualTlsProxy]]:
    proxy = MutualTlsProxy(
        dev_env.client.service_client.config.target_host,
        certs / "frontend.pem",
        certs / "frontend.key",
        certs / "ca.pem",
    )
    port = await proxy.start()
    try:
        yield f"127.0.0.1:{port}", proxy
    finally:
        await proxy.close()


def with_tls(address: str, certs: Path, *, ca: str = "ca.pem", cert: str | None = "worker") -> Settings:
    return dataclasses.replace(
        settings(),
        temporal_address=address,
        temporal_tls_ca=certs / ca,
        temporal_tls_cert=certs / f"{cert}.pem" if cert else None,
        temporal_tls_key=certs / f"{cert}.key" if cert else None,
        temporal_tls_server_name="temporal",  # the name in the frontend's certificate, not the address
    )


async def test_a_client_with_its_certificate_works_through_mutual_tls(
    frontend: tuple[str, MutualTlsProxy], certs: Path
) -> None:
    address, _ = frontend
    client = await seller_client.connect(with_tls(address, certs))
    # Real calls over the link: the namespace, and a workflow started (its input encrypted), read back.
    assert (await client.workflow_service.get_system_info(_system_info())).server_version
    handle = await client.start_workflow(
        "NoSuchWorkflow", {"probe": 1}, id="tls-probe", task_queue="tls-probe"
    )
    assert (await handle.describe()).status is not None
    await handle.terminate("tls probe done")


async def test_callers_without_a_trusted_certificate_get_no_connection(
    frontend: tuple[str, MutualTlsProxy], certs: Path
) -> None:
    address, _ = frontend
    for s in (
        with_tls(address, certs, cert=None),  # no client certificate: the frontend's side refuses
        with_tls(address, certs, cert="stranger"),  # a certificate from a CA the frontend does not trust
        with_tls(address, certs, ca="stranger-ca.pem"),  # a frontend the client cannot verify
        dataclasses.replace(with_tls(address, certs), temporal_tls_server_name="elsewhere"),  # wrong name
    ):
        with pytest.raises(RuntimeError):
            await seller_client.connect(s)
    plain = dataclasses.replace(settings(), temporal_address=address)  # no TLS at all
    with pytest.raises(RuntimeError):
        await seller_client.connect(plain)


def test_tls_settings_name_what_is_wrong(monkeypatch: pytest.MonkeyPatch, certs: Path) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(certs / "worker.pem"))
    monkeypatch.delenv("TEMPORAL_TLS_KEY", raising=False)
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"):
        load_settings()
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(certs / "missing.key"))
    s = load_settings()
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_KEY: cannot read"):
        seller_client.tls_config(s)
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(certs / "worker.key"))
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(certs / "worker.key").replace(".key", ".nothing"))
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_CA"):
        seller_client.tls_config(load_settings())
    # Nothing set: a plain connection (the development dev server speaks no TLS).
    for name in ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"):
        monkeypatch.delenv(name)
    assert seller_client.tls_config(load_settings()) is False
    # Production connects with mutual TLS or not at all, each missing file named.
    production = dataclasses.replace(load_settings(), seller_env="production")
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_CA is unset"):
        seller_client.tls_config(production)
    with pytest.raises(SettingsError, match="TEMPORAL_TLS_KEY is unset"):
        seller_client.tls_config(
            dataclasses.replace(
                production, temporal_tls_ca=certs / "ca.pem", temporal_tls_cert=certs / "worker.pem"
            )
        )


def test_the_certificate_set_is_private_and_fit_for_mutual_tls(certs: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    assert (certs.stat().st_mode & 0o777) == 0o700
    for name in ("ca.pem", "frontend.key", "worker.key"):
        assert (certs / name).stat().st_mode & 0o077 == 0, f"{name} readable by others"
    frontend = x509.load_pem_x509_certificate((certs / "frontend.pem").read_bytes())
    usages = frontend.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages and ExtendedKeyUsageOID.CLIENT_AUTH in usages
    names = frontend.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"temporal", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    worker = x509.load_pem_x509_certificate((certs / "worker.pem").read_bytes())
    assert list(worker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]


def _system_info():  # type: ignore[no-untyped-def]
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()
