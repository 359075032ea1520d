"""DNS rebinding on a loopback bind: the Host check comes before the token (a rebound page
could hold none anyway), and loopback names pass with or without a port."""

from __future__ import annotations

import pytest

from tests.auth.tokens import SECRETS, bearer, locked_config
from tests.conftest import MakeClient, make_config


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "[::1]", "localhost:{port}", "127.0.0.1:{port}", "[::1]:80"]
)
async def test_loopback_hosts_pass(make_client: MakeClient, host: str) -> None:
    client = await make_client(locked_config())
    headers = {"Host": host.format(port=client.port)} | bearer(SECRETS["read"])
    assert (await client.get("/events", headers=headers)).status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "10.0.0.1"])
async def test_other_hosts_are_refused_even_with_a_token(
    make_client: MakeClient, host: str
) -> None:
    client = await make_client(locked_config())
    shown = host.format(port=client.port)
    response = await client.get("/events", headers={"Host": shown} | bearer(SECRETS["read"]))
    assert response.status == 403
    error = (await response.json())["error"]
    assert error["code"] == "forbidden_host" and shown in error["message"]


async def test_a_listed_host_passes(make_client: MakeClient) -> None:
    client = await make_client(make_config(http={"allowed_hosts": ["eventd.example"]}))
    response = await client.get("/events", headers={"Host": f"eventd.example:{client.port}"})
    assert response.status == 200
