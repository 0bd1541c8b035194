"""The upstream transport and its HTTP/1.1 client, against real loopback servers.

The fake upstream covers provider-shaped answers and faults; small aiohttp.web and raw asyncio
servers started here cover what it cannot: counting connections, closing idle keep-alive
connections, read-until-close bodies, encodings, TLS, limits and disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tenantgate.errors import UpstreamTimeout, UpstreamUnavailable
from tenantgate.providers._http1_client import Http1Client
from tenantgate.providers.base import UpstreamRequest
from tenantgate.providers.transport import USER_AGENT, HttpTransport
from tenantgate.settings import UpstreamSettings, UpstreamTimeouts
from tenantgate.testing.fake_upstream import FakeUpstream, Fault

HOST = "127.0.0.1"
FAST = UpstreamTimeouts(
    connect_timeout_ms=2_000, first_byte_timeout_ms=5_000, idle_timeout_ms=5_000, total_timeout_ms=10_000
)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _post(url: str, body: bytes = b"{}", **headers: str) -> UpstreamRequest:
    return UpstreamRequest(method="POST", url=url, headers=headers, body=body)


@contextlib.asynccontextmanager
async def _transport(
    *, timeouts: UpstreamTimeouts = FAST, ssl_context: ssl.SSLContext | None = None, **limits: int
) -> AsyncIterator[HttpTransport]:
    transport = HttpTransport(UpstreamSettings(timeouts=timeouts, **limits), ssl_context=ssl_context)
    await transport.start()
    try:
        yield transport
    finally:
        await transport.aclose()


class _Web:
    """An aiohttp.web app on loopback that records each request's client port (its connection)."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.headers: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(
        self, handler: Handler, *, keepalive_timeout: float = 75.0, ssl_context: ssl.SSLContext | None = None
    ) -> _Web:
        async def recording(request: web.Request) -> web.StreamResponse:
            peer = request.transport.get_extra_info("peername") if request.transport else None
            self.ports.append(peer[1] if peer else -1)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", recording)
        self.runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0, ssl_context=ssl_context)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://{HOST}:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[_Web]]]:
    servers: list[_Web] = []

    async def start(handler: Handler, **options: Any) -> _Web:
        server = await _Web().start(handler, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


class _Raw:
    """A raw asyncio server: each connection runs ``handler``; counts connections and EOFs."""

    def __init__(self, handler: RawHandler) -> None:
        self.handler = handler
        self.connections = 0
        self.disconnected = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> _Raw:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(on_connect, HOST, 0)
        self.url = f"http://{HOST}:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self.server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (content-length framed); b"" head at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b"", b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def _ok(body: bytes, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- the fake upstream ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Any:
    with FakeUpstream(api_keys=("sk-test",)) as server:
        yield server


def _chat(fake: FakeUpstream, *, stream: bool = False) -> UpstreamRequest:
    body = dict(CHAT, stream=True) if stream else CHAT
    return _post(
        f"{fake.openai_base_url}/chat/completions",
        json.dumps(body).encode(),
        authorization="Bearer sk-test",
        **{"content-type": "application/json"},
    )


async def test_send_reads_a_whole_answer_with_lower_cased_headers(fake: FakeUpstream) -> None:
    async with _transport() as transport:
        response = await transport.send(_chat(fake), FAST)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.body)["object"] == "chat.completion"
    assert fake.received[-1].headers["user-agent"] == USER_AGENT


async def test_stream_yields_the_event_stream_and_returns_the_connection(fake: FakeUpstream) -> None:
    async with _transport() as transport:
        async with transport.stream(_chat(fake, stream=True), FAST) as upstream:
            assert upstream.status == 200
            body = b"".join([chunk async for chunk in upstream.chunks()])
        assert body.rstrip().endswith(b"data: [DONE]")
        again = await transport.send(_chat(fake), FAST)
        assert again.status == 200


async def test_reset_before_headers_is_unavailable_and_not_retried(fake: FakeUpstream) -> None:
    async with _transport() as transport:
        await transport.send(_chat(fake), FAST)  # a pooled connection, so a retry would be possible
        fake.reset()
        fake.enqueue(Fault(kind="reset_before_headers"))
        with pytest.raises(UpstreamUnavailable, match="connection failed"):
            await transport.send(_chat(fake), FAST)
    assert len(fake.received) == 1


async def test_reset_mid_stream_is_unavailable(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="cut_stream_after", after_chunks=2))
    async with _transport() as transport, transport.stream(_chat(fake, stream=True), FAST) as upstream:
        with pytest.raises(UpstreamUnavailable):
            async for _ in upstream.chunks():
                pass


async def test_stall_before_headers_hits_the_first_byte_timeout(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="stall_before_headers", seconds=2.0))
    timeouts = FAST.model_copy(update={"first_byte_timeout_ms": 200})
    async with _transport() as transport:
        with pytest.raises(UpstreamTimeout, match="request") as raised:
            await transport.send(_chat(fake), timeouts)
    assert raised.value.upstream_accepted  # sent, never answered: the upstream may bill for it


async def test_slow_body_hits_the_idle_timeout_on_send(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="slow_first_token", seconds=2.0))
    timeouts = FAST.model_copy(update={"idle_timeout_ms": 200})
    async with _transport() as transport:
        with pytest.raises(UpstreamTimeout) as raised:
            await transport.send(_chat(fake), timeouts)
    assert raised.value.upstream_accepted  # a 2xx whose body stopped: the upstream did the work


async def test_a_gap_between_chunks_hits_the_idle_timeout(fake: FakeUpstream) -> None:
    fake.enqueue(Fault(kind="stall_after_chunks", after_chunks=1, seconds=2.0))
    timeouts = FAST.model_copy(update={"idle_timeout_ms": 200})
    async with _transport() as transport, transport.stream(_chat(fake, stream=True), timeouts) as upstream:
        with pytest.raises(UpstreamTimeout, match="streaming"):
            async for _ in upstream.chunks():
                pass


async def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    async with _transport() as transport:
        with pytest.raises(UpstreamUnavailable, match="Could not connect") as raised:
            await transport.send(_post(f"http://{HOST}:{port}/"), FAST)
    assert not raised.value.upstream_accepted  # never reached an upstream: nothing to bill


# --- connections, framing and encodings ------------------------------------------------------


async def _hello(request: web.Request) -> web.StreamResponse:
    await request.read()
    return web.Response(body=b"hello")


async def test_sequential_requests_reuse_one_connection(serve: Any) -> None:
    server = await serve(_hello)
    async with _transport() as transport:
        for _ in range(3):
            assert (await transport.send(_post(server.url + "/a"), FAST)).body == b"hello"
        async with transport.stream(_post(server.url + "/b"), FAST) as upstream:
            assert await upstream.read_all() == b"hello"
        assert (await transport.send(_post(server.url + "/c"), FAST)).body == b"hello"
    assert len(server.ports) == 5
    assert len(set(server.ports)) == 1


async def test_request_carries_host_length_user_agent_and_no_hop_headers(serve: Any) -> None:
    server = await serve(_hello)
    request = _post(
        server.url + "/x?q=1", b"abc", connection="upgrade", upgrade="h2c", **{"x-api-key": "k"}
    )
    async with _transport() as transport:
        await transport.send(request, FAST)
    seen = server.headers[0]
    assert seen["host"] == server.url.removeprefix("http://")
    assert seen["content-length"] == "3"
    assert seen["user-agent"] == USER_AGENT
    assert seen["x-api-key"] == "k"
    assert "upgrade" not in seen
    assert seen.get("connection", "keep-alive").lower() != "upgrade"


async def test_header_with_a_newline_is_refused() -> None:
    async with _transport() as transport:
        with pytest.raises(UpstreamUnavailable):
            await transport.send(_post(f"http://{HOST}:9/", **{"x-a": "b\r\nx-injected: 1"}), FAST)


async def test_connection_close_answer_is_not_reused(serve: Any) -> None:
    async def closing(request: web.Request) -> web.StreamResponse:
        response = web.Response(body=b"bye")
        response.force_close()
        return response

    server = await serve(closing)
    async with _transport() as transport:
        for _ in range(2):
            assert (await transport.send(_post(server.url), FAST)).body == b"bye"
    assert len(set(server.ports)) == 2


async def test_chunked_and_content_length_bodies(serve: Any) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    plain = await serve(_hello)
    streamed = await serve(chunked)
    async with _transport() as transport:
        assert (await transport.send(_post(plain.url), FAST)).body == b"hello"
        for _ in range(2):
            assert (await transport.send(_post(streamed.url), FAST)).body == b"one,two,three"
    assert len(set(streamed.ports)) == 1


async def test_read_until_close_body_is_whole_and_the_connection_is_not_reused() -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")
        await writer.drain()

    async with _Raw(until_close) as server, _transport() as transport:
        for _ in range(2):
            assert (await transport.send(_post(server.url), FAST)).body == b"part one, part two"
    assert server.connections == 2


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_decoded(serve: Any, encoding: str) -> None:
    data = b"compressible " * 500
    if encoding == "gzip":
        body = gzip.compress(data)
    elif encoding == "deflate":
        body = zlib.compress(data)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = packer.compress(data) + packer.flush()

    async def compressed(request: web.Request) -> web.StreamResponse:
        name = "deflate" if encoding == "raw-deflate" else encoding
        return web.Response(body=body, headers={"content-encoding": name})

    server = await serve(compressed)
    async with _transport() as transport:
        response = await transport.send(_post(server.url), FAST)
        assert response.body == data
        async with transport.stream(_post(server.url), FAST) as upstream:
            assert b"".join([c async for c in upstream.chunks()]) == data
    assert server.headers[0]["accept-encoding"] == "gzip, deflate"


async def test_stream_hands_on_each_chunk_as_it_arrives(serve: Any) -> None:
    go_on = asyncio.Event()

    async def paced(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        async with asyncio.timeout(5):
            await go_on.wait()
        await response.write(b"data: second\n\n")
        await response.write_eof()
        return response

    server = await serve(paced)
    received: list[bytes] = []
    async with _transport() as transport, transport.stream(_post(server.url), FAST) as upstream:
        async for chunk in upstream.chunks():
            received.append(chunk)
            go_on.set()  # the second chunk is only written after the first was handed on
    assert received == [b"data: first\n\n", b"data: second\n\n"]


async def test_a_slow_reader_pauses_the_socket_instead_of_buffering_everything(serve: Any) -> None:
    block = b"x" * 65536
    blocks_max = 512  # 32 MiB offered
    written = [0]

    async def firehose(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(block) * blocks_max
        await response.prepare(request)
        for _ in range(blocks_max):
            await response.write(block)
            written[0] += 1
        return response

    server = await serve(firehose)
    async with _transport() as transport, transport.stream(_post(server.url), FAST) as upstream:
        await asyncio.sleep(0.5)
        assert written[0] < blocks_max // 2  # the kernel buffers hold a few MiB, not 32
        total = 0
        async for chunk in upstream.chunks():
            total += len(chunk)
    assert total == len(block) * blocks_max


# --- keep-alive expiry and the stale-connection retry ----------------------------------------


async def test_connection_closed_by_the_server_while_idle_is_not_reused(serve: Any) -> None:
    server = await serve(_hello, keepalive_timeout=0.1)
    async with _transport() as transport:
        assert (await transport.send(_post(server.url), FAST)).body == b"hello"
        await asyncio.sleep(0.5)
        assert (await transport.send(_post(server.url), FAST)).body == b"hello"
    assert len(server.ports) == 2
    assert len(set(server.ports)) == 2


async def test_a_reused_connection_closed_before_answering_is_retried_once_on_a_fresh_one() -> None:
    requests = [0]

    async def closes_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for index in range(8):
            head, _ = await _read_request(reader)
            if not head:
                return
            requests[0] += 1
            if index == 1:
                return  # the keep-alive race: the server closed as our request arrived
            writer.write(_ok(b"answer"))
            await writer.drain()

    async with _Raw(closes_second_request) as server, _transport() as transport:
        assert (await transport.send(_post(server.url), FAST)).body == b"answer"
        assert (await transport.send(_post(server.url), FAST)).body == b"answer"
    assert server.connections == 2
    assert requests[0] == 3


async def test_a_fresh_connection_closed_before_answering_is_not_retried() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)

    async with _Raw(never_answers) as server, _transport() as transport:
        with pytest.raises(UpstreamUnavailable, match="ServerDisconnected"):
            await transport.send(_post(server.url), FAST)
    assert server.connections == 1


async def test_idle_connections_expire() -> None:
    gone = asyncio.Event()

    async def keeps_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_ok(b"ok"))
        await writer.drain()
        head, _ = await _read_request(reader)
        if not head:
            gone.set()

    async with _Raw(keeps_alive) as server:
        client = Http1Client(  # the transport's 30 s expiry, shortened for the test
            connections_max=4, connections_per_host_max=4, default_headers={}, keepalive_s=0.2
        )
        try:
            response = await client.request("GET", server.url, {}, b"", connect_timeout_s=2)
            assert await response.read() == b"ok"
            response.release()
            async with asyncio.timeout(3):
                await gone.wait()
        finally:
            await client.aclose()


# --- limits ----------------------------------------------------------------------------------


async def test_requests_over_the_per_host_limit_wait_in_order_then_reuse_the_connection(
    serve: Any,
) -> None:
    release = asyncio.Event()
    order: list[str] = []

    async def gated(request: web.Request) -> web.StreamResponse:
        order.append(request.path)
        async with asyncio.timeout(5):
            await release.wait()
        return web.Response(body=request.path.encode())

    server = await serve(gated)
    async with _transport(connections_per_host_max=1) as transport:
        tasks = [
            asyncio.create_task(transport.send(_post(f"{server.url}/{i}"), FAST)) for i in range(4)
        ]
        await asyncio.sleep(0.3)
        assert order == ["/0"]
        release.set()
        bodies = [(await task).body for task in tasks]
    assert bodies == [b"/0", b"/1", b"/2", b"/3"]
    assert order == ["/0", "/1", "/2", "/3"]  # waiters are served first come, first served
    assert len(set(server.ports)) == 1


async def test_the_total_limit_spans_hosts(serve: Any) -> None:
    release = asyncio.Event()

    async def gated(request: web.Request) -> web.StreamResponse:
        async with asyncio.timeout(5):
            await release.wait()
        return web.Response(body=b"ok")

    first, second = await serve(gated), await serve(gated)
    async with _transport(connections_max=1) as transport:
        busy = asyncio.create_task(transport.send(_post(first.url), FAST))
        waiting = asyncio.create_task(transport.send(_post(second.url), FAST))
        await asyncio.sleep(0.3)
        assert (len(first.ports), len(second.ports)) == (1, 0)
        release.set()
        assert (await busy).body == (await waiting).body == b"ok"


async def test_waiting_for_a_slot_is_bounded_by_the_connect_timeout(serve: Any) -> None:
    release = asyncio.Event()

    async def gated(request: web.Request) -> web.StreamResponse:
        async with asyncio.timeout(5):
            await release.wait()
        return web.Response(body=b"ok")

    server = await serve(gated)
    timeouts = FAST.model_copy(update={"connect_timeout_ms": 200})
    async with _transport(connections_per_host_max=1, timeouts=timeouts) as transport:
        busy = asyncio.create_task(transport.send(_post(server.url), timeouts))
        await asyncio.sleep(0.1)
        with pytest.raises(UpstreamTimeout):
            await transport.send(_post(server.url), timeouts)
        release.set()
        assert (await busy).body == b"ok"


# --- cancellation and the remaining timeouts -------------------------------------------------


def _waits_for_disconnect(gone: asyncio.Event, *, answer: bytes) -> RawHandler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        async with asyncio.timeout(5):
            while await reader.read(65536):
                pass
        gone.set()

    return handler


async def test_cancelling_a_request_closes_its_socket_at_once() -> None:
    gone = asyncio.Event()
    async with _Raw(_waits_for_disconnect(gone, answer=b"")) as server, _transport() as transport:
        task = asyncio.create_task(transport.send(_post(server.url), FAST))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(2):
            await gone.wait()


async def test_leaving_a_stream_early_closes_its_socket_at_once() -> None:
    gone = asyncio.Event()
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n"
    async with _Raw(_waits_for_disconnect(gone, answer=head)) as server, _transport() as transport:
        async with transport.stream(_post(server.url), FAST) as upstream:
            async for chunk in upstream.chunks():
                assert chunk == b"first"
                break
        async with asyncio.timeout(2):
            await gone.wait()
        assert server.connections == 1


async def test_a_stream_that_never_ends_hits_the_total_timeout(serve: Any) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(200):
            await response.write(b"data: more\n\n")
            await asyncio.sleep(0.02)
        return response

    server = await serve(endless)
    timeouts = FAST.model_copy(update={"total_timeout_ms": 300, "idle_timeout_ms": 1_000})
    async with _transport() as transport, transport.stream(_post(server.url), timeouts) as upstream:
        with pytest.raises(UpstreamTimeout, match="streaming"):
            async for _ in upstream.chunks():
                pass


async def test_a_silent_tls_handshake_hits_the_connect_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(3):
            await reader.read()

    timeouts = FAST.model_copy(update={"connect_timeout_ms": 200})
    async with _Raw(silent) as server, _transport(timeouts=timeouts) as transport:
        url = server.url.replace("http://", "https://")
        with pytest.raises(UpstreamTimeout):
            await transport.send(_post(url), timeouts)


# --- TLS -------------------------------------------------------------------------------------


def _certificates(tmp_path: Path, san: x509.GeneralName) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a server certificate for ``san``: (server context, client context)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tenantgate test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_tls_upstream_with_a_trusted_ca_answers_over_one_connection(serve: Any, tmp_path: Path) -> None:
    server_ctx, client_ctx = _certificates(tmp_path, x509.IPAddress(ipaddress.ip_address(HOST)))
    server = await serve(_hello, ssl_context=server_ctx)
    async with _transport(ssl_context=client_ctx) as transport:
        for _ in range(2):
            assert (await transport.send(_post(server.url), FAST)).body == b"hello"
    assert len(set(server.ports)) == 1


async def test_tls_upstream_with_an_unknown_ca_cannot_connect(serve: Any, tmp_path: Path) -> None:
    server_ctx, _ = _certificates(tmp_path, x509.IPAddress(ipaddress.ip_address(HOST)))
    server = await serve(_hello, ssl_context=server_ctx)
    async with _transport() as transport:  # the system CA store does not know the test CA
        with pytest.raises(UpstreamUnavailable, match="Could not connect"):
            await transport.send(_post(server.url), FAST)


async def test_tls_certificate_for_another_host_cannot_connect(serve: Any, tmp_path: Path) -> None:
    server_ctx, client_ctx = _certificates(tmp_path, x509.DNSName("upstream.invalid"))
    server = await serve(_hello, ssl_context=server_ctx)
    async with _transport(ssl_context=client_ctx) as transport:
        with pytest.raises(UpstreamUnavailable, match="Could not connect"):
            await transport.send(_post(server.url), FAST)


async def test_a_finished_stream_whose_terminator_lags_returns_its_connection_to_the_pool() -> None:
    async def late_terminator(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n"
                         b"e\r\ndata: [DONE]\n\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)  # the caller has its answer before the body ends
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async with _Raw(late_terminator) as server, _transport() as transport:
        for _ in range(2):
            async with transport.stream(_post(server.url), FAST) as upstream:
                first = await anext(upstream.chunks())
                assert first == b"data: [DONE]\n\n"
            # Left normally with the body unfinished: drained in the background, then pooled.
            async with asyncio.timeout(2):
                while transport._draining:
                    await asyncio.sleep(0.01)
        assert server.connections == 1
