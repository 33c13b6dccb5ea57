"""Identity fields in payloads decoded by the codec server: masked for an operator without the
`identity_reader` role, in clear for one with it; the rest of the payload is untouched."""

from __future__ import annotations

import json
from dataclasses import replace

from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

import codec_server
from models.auth import IDENTITY_READER
from models.contract import ChangeContactInput, RegistrationInput
from models.settings import settings
from security.codec import codec
from security.codec_access import Operator, hash_password, load_access
from security.masking import MASK

APPLICANT = RegistrationInput(
    request_id="r-1",
    store_name="Lucky Lamp Store",
    email="owner@example.com",
    mobile="+8613800138000",
    region="CN",
    licence_number="91440300MA5F00001X",
    id_card_number="110101199003070011",
)
IDENTITY = (APPLICANT.email, APPLICANT.mobile, APPLICANT.licence_number, APPLICANT.id_card_number)


async def decoded_as(operator: str, roles: frozenset[str]) -> list[object]:
    op = Operator(operator, hash_password("a-long-password-1"), frozenset({"default"}), roles)
    app = codec_server.create_app(settings(), replace(load_access(settings(), env={}), operators={operator: op}))
    async with TestClient(TestServer(app)) as client:
        signed_in = await client.post("/login", data={"operator": operator, "password": "a-long-password-1"})
        assert signed_in.status == 200
        plain = DataConverter.default.payload_converter.to_payloads([APPLICANT, ChangeContactInput("mobile", "+85291234567")])
        sealed = await codec().encode(plain)
        response = await client.post(
            "/decode",
            data=json_format.MessageToJson(Payloads(payloads=sealed)),
            headers={"Content-Type": "application/json", "X-Namespace": "default"},
        )
        assert response.status == 200, await response.text()
        out = json_format.Parse(await response.read(), Payloads())
        return [json.loads(p.data) for p in out.payloads]


async def test_identity_fields_are_masked_without_the_identity_reader_role() -> None:
    registration, contact = await decoded_as("reader", frozenset({"operator"}))
    assert not any(value in json.dumps([registration, contact]) for value in IDENTITY + ("+85291234567",))
    for key in ("email", "mobile", "licence_number", "id_card_number"):
        assert registration[key].startswith(MASK), key  # type: ignore[index]
    assert contact["value"].startswith(MASK)  # type: ignore[index]
    assert registration["store_name"] == "Lucky Lamp Store" and registration["region"] == "CN"  # type: ignore[index]

    registration, contact = await decoded_as("auditor", frozenset({IDENTITY_READER}))
    assert [registration[k] for k in ("email", "mobile", "licence_number", "id_card_number")] == list(IDENTITY)  # type: ignore[index]
    assert contact["value"] == "+85291234567"  # type: ignore[index]
