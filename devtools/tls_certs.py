"""A development CA and the certificates the Temporal frontend's mutual TLS needs (docker-compose.yml).

    python -m devtools.tls_certs ./certs [--server-name temporal] [--days 90]

writes into ./certs (files 0600, the folder 0700):

    ca.pem                    the CA every side trusts (TEMPORAL_TLS_CA)
    frontend.pem, .key        the Temporal server: serverAuth for `temporal`, `localhost`, 127.0.0.1,
                              and clientAuth for its own internode calls
    worker.pem, .key          client certificates (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY), one per
    cli.pem, .key             kind of caller, so that one can be replaced without the others
    ui.pem, .key
    codec.pem, .key           the codec server's review pages (evidence/page.py): queries and decisions
    admin.pem, .key           the one-shot that registers search attributes, the health check

The CA's private key is not kept: to add a caller, make a new set. For production use your own PKI (the
files are just PEM: any CA that issues clientAuth/serverAuth certificates will do), and keep each key
on the host that uses it: whoever holds a client certificate reaches the whole frontend.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENTS = ("worker", "cli", "ui", "admin", "codec")
SERVER_NAMES = ("temporal", "localhost")


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "seller-platform development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(common_name: str = "seller-platform dev CA", days: int = 90) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def issue(
    ca: Authority,
    common_name: str,
    *,
    server_names: tuple[str, ...] = (),
    client: bool = True,
    days: int = 90,
) -> Issued:
    """A leaf certificate: clientAuth, and serverAuth for `server_names` (DNS names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usages = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + (
        [ExtendedKeyUsageOID.SERVER_AUTH] if server_names else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if server_names:
        alt: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_set(out: Path, *, server_names: tuple[str, ...] = SERVER_NAMES, days: int = 90) -> Authority:
    """The CA and every certificate docker-compose.yml mounts, written into `out`."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = make_ca(days=days)
    _write(out / "ca.pem", ca.pem)
    frontend = issue(ca, "temporal-frontend", server_names=(*server_names, "127.0.0.1"), days=days)
    _write(out / "frontend.pem", frontend.cert_pem)
    _write(out / "frontend.key", frontend.key_pem)
    for name in CLIENTS:
        leaf = issue(ca, f"seller-platform-{name}", days=days)
        _write(out / f"{name}.pem", leaf.cert_pem)
        _write(out / f"{name}.key", leaf.key_pem)
    return ca


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--server-name", action="append", help="DNS name of the frontend (repeatable)")
    p.add_argument("--days", type=int, default=90)
    args = p.parse_args()
    names = tuple(args.server_name) if args.server_name else SERVER_NAMES
    write_set(args.out, server_names=names, days=args.days)
    print(f"wrote ca.pem, frontend.pem/.key and {', '.join(CLIENTS)} client certificates to {args.out}")


if __name__ == "__main__":
    main()
