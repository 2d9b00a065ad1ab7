"""Headers and queries of the stream and the event routes: whatever a client sends, a clear 4xx
naming what is wrong, never a 500. Sent as raw bytes straight to the ASGI app, since HTTP clients
re-encode header values that are not ASCII (a server decodes them as Latin-1)."""
import asyncio
import json

import pytest

from tests.server.world import assert_error


def asgi_get(app, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, str], bytes]:
    """A GET straight to the app: status, headers and body of the answer; for an accepted stream
    (which never ends by itself) the status and headers only, then the client goes away."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower(), v) for k, v in headers], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80)}

    async def run():
        messages, answered, asked = [], asyncio.Event(), []

        async def receive():
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            messages.append(message)
            if message["type"] == "http.response.start" and message["status"] == 200 or \
                    message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        task = asyncio.create_task(app(scope, receive, send))
        await asyncio.wait_for(answered.wait(), timeout=20)
        await asyncio.wait_for(task, timeout=20)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return start["status"], {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}, body

    return asyncio.run(run())


class Answer:
    """Enough of a response for assert_error."""

    def __init__(self, status: int, headers: dict, body: bytes):
        self.status_code, self.headers, self.text = status, headers, body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text)


def get(world, path: str, *extra: tuple[bytes, bytes], party: str = "militia") -> Answer:
    auth = (b"authorization", f"Bearer {world.tokens[party]}".encode())
    return Answer(*asgi_get(world.client.app, path, [auth, *extra]))


BAD_LAST_EVENT_IDS = {
    "superscript two (Latin-1)": "\u00b2".encode("latin-1"),
    "superscript two (UTF-8)": "\u00b2".encode(),
    "Arabic-Indic digits": "\u0661\u0662".encode(),
    "fullwidth digit": "\uff15".encode(),
    "negative": b"-1",
    "plus sign": b"+5",
    "exponent": b"1e3",
    "hexadecimal": b"0x10",
    "two numbers": b"5,6",
    "inner space": b"5 6",
    "underscore": b"1_000",
    "a word": b"abc",
    "empty": b"",
    "more digits than int() reads": b"9" * 5000,
}


@pytest.mark.parametrize("name", BAD_LAST_EVENT_IDS)
def test_a_last_event_id_that_is_not_an_event_number_is_400_naming_the_header(world, name):
    r = get(world, "/v1/stream", (b"last-event-id", BAD_LAST_EVENT_IDS[name]))
    error = assert_error(r, 400, "invalid_header")
    assert "Last-Event-ID" in error["message"]
    assert error["details"] == [{"path": "header.Last-Event-ID", "reason": "must be an event number: ASCII digits 0-9"}]


@pytest.mark.parametrize("value", [b"0", b"7", b"007", b"18446744073709551616"])
def test_a_last_event_id_of_ascii_digits_is_taken(world, value):
    world.declare_tanf()
    world.militia_enters_tanf()
    r = get(world, "/v1/stream", (b"last-event-id", value))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")


AFTER = ["after=%C2%B2", "after=%B2", "after=-1", "after=" + "9" * 5000, "after=1.5", "after=abc", "after=%00"]
LIMIT = ["limit=0", "limit=10001", "limit=" + "9" * 5000, "limit=%C2%B2"]


@pytest.mark.parametrize("route, query", [("/v1/stream", q) for q in AFTER] + [("/v1/events", q) for q in AFTER + LIMIT])
def test_a_bad_after_or_limit_is_422_naming_the_query(world, route, query):
    r = get(world, f"{route}?{query}")
    error = assert_error(r, 422, "invalid_request")
    assert error["details"][0]["path"] == "query." + query.split("=")[0]


@pytest.mark.parametrize("route", ["/v1/stream", "/v1/events", "/v1/me"])
@pytest.mark.parametrize("authorization", [b"Bearer \xff\xfe", b"Bearer \xc2\xb2", b"\xb2 token", b"Bearer a\x00b"])
def test_a_token_that_is_not_ascii_is_401(world, route, authorization):
    r = Answer(*asgi_get(world.client.app, route, [(b"authorization", authorization)]))
    assert r.status_code == 401, r.text
