"""Bearer tokens as RFC 6750 has them: 401 with a WWW-Authenticate challenge for a missing, unknown
or revoked token, a scheme matched without regard to case (RFC 7235), and 403 only for an
authenticated party that may not do what it asks."""
import json
import threading
import time

import pytest

from tests.server.world import INSIDE, OUTSIDE, TANF, assert_error, at

# one route of each group: reads, writes through the framework, the positions route served ahead of
# it (server/app.py, Direct), and the stream
ROUTES = {
    "GET /v1/me": ("GET", "/v1/me", None),
    "GET /v1/events": ("GET", "/v1/events", None),
    "POST /v1/zones": ("POST", "/v1/zones", TANF),
    "POST /v1/positions": ("POST", "/v1/positions", [{"t": at(0), "id": "u1", "lon": OUTSIDE[0], "lat": OUTSIDE[1]}]),
    "POST /v1/messages/m1/ack": ("POST", "/v1/messages/m1/ack", None),
    "GET /v1/stream": ("GET", "/v1/stream", None),
}
CHALLENGE = "Bearer"
INVALID_TOKEN = 'Bearer error="invalid_token"'


def call(world, route: str, authorization: str | None):
    method, path, body = ROUTES[route]
    headers = {} if authorization is None else {"Authorization": authorization}
    if path == "/v1/stream":  # an accepted stream never ends: read its status and leave
        with world.client.stream(method, path, headers=headers) as r:
            if r.status_code == 200:
                return r
            r.read()
            return r
    return world.client.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwdw==", "Token abc", "Bearer", "Bearertoken"])
def test_no_bearer_token_is_401_with_a_bare_challenge(world, route, authorization):
    """RFC 6750 section 3.1: a request with no authentication information gets the challenge
    without an error code."""
    before = world.size()
    r = call(world, route, authorization)
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == CHALLENGE
    assert world.size() == before


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("token", ["unknown", "revoked", "unknown, lower-case scheme", "revoked, lower-case scheme"])
def test_an_unknown_or_revoked_token_is_401_invalid_token(world, route, token):
    scheme = "bearer" if "lower-case" in token else "Bearer"
    if token.startswith("revoked"):
        assert world.service.revoke("un") is True
        authorization = f"{scheme} {world.tokens['un']}"
    else:
        authorization = f"{scheme} not-a-token"
    before = world.size()
    r = call(world, route, authorization)
    error = assert_error(r, 401, "invalid_token")
    assert error["message"] == "unknown or revoked token"
    assert r.headers["www-authenticate"] == INVALID_TOKEN
    assert world.size() == before


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR", "Bearer "])
def test_the_scheme_is_matched_without_regard_to_case(world, scheme):
    def auth(party: str) -> dict:
        return {"Authorization": f"{scheme} {world.tokens[party]}"}

    me = world.client.get("/v1/me", headers=auth("coalition"))
    assert me.status_code == 200 and me.json()["party"] == "coalition"
    assert world.client.post("/v1/zones", json=TANF, headers=auth("coalition")).status_code == 201
    r = world.client.post("/v1/positions", headers=auth("militia"),
                          json=[{"t": at(1), "id": "u1", "lon": INSIDE[0], "lat": INSIDE[1]}])
    assert r.status_code == 202, r.text
    assert "zone.entered" in [e["type"] for e in world.client.get("/v1/events", headers=auth("militia")).json()]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_a_stream_opened_with_a_lower_or_upper_case_scheme_stays_open_and_delivers(world, scheme):
    """The stream checks the token again while it is open (to end it on revocation): with the
    scheme in another case it must still find the party."""
    world.declare_tanf()

    def later():
        time.sleep(1.3)  # past the stream's first one-second wait, when it checks the token again
        world.militia_enters_tanf()

    thread = threading.Thread(target=later)
    thread.start()
    got = []
    try:
        with world.client.stream("GET", "/v1/stream",
                                 headers={"Authorization": f"{scheme} {world.tokens['militia']}"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line.removeprefix("data: "))["type"])
                    if got[-1] == "message.delivered":
                        break
    finally:
        thread.join()
    assert "zone.entered" in got and got[-1] == "message.delivered"


def test_a_write_naming_another_party_stays_403_without_a_challenge(world):
    """403 is for an authenticated party that may not do this; its token is fine (also in lower case)."""
    r = world.client.post("/v1/zones", json={**TANF, "parties": ["russia"], "allowed": ["russia"]},
                          headers={"Authorization": f"bearer {world.tokens['coalition']}"})
    assert_error(r, 403, "forbidden")
    assert "www-authenticate" not in r.headers


def test_the_openapi_document_says_what_401_and_403_mean(world):
    responses = world.client.get("/openapi.json").json()["paths"]["/v1/zones"]["get"]["responses"]
    assert "unknown or revoked" in responses["401"]["description"]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "token" not in responses["403"]["description"]
