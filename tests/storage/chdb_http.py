"""ClickHouse's HTTP interface in front of this process's chDB engine, for multi-process tests.

chDB is one process per data directory, so API workers in other processes cannot open it. This
server answers what clickhouse-connect's HTTP client sends (the same protocol it speaks to a
ClickHouse server) by running each statement on chDB: SQL in the ``query`` parameter or the
body, ``param_*`` server-side parameters, ``database``, settings as URL parameters, inserts
with their data in the (possibly compressed, possibly chunked) body, and errors as a 500 with
``X-ClickHouse-Exception-Code``. Requests are served one at a time.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import tempfile
import threading
from email.message import Message
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters that steer the HTTP exchange rather than the query
_TRANSPORT = {
    "query",
    "database",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "wait_end_of_query",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "enable_http_compression",
    "default_format",
    "client_protocol_version",
    "user",
    "password",
    "compress",
    "decompress",
    "buffer_size",
}
_INSERT = re.compile(r"(?is)^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*$")
_TRAILING_FORMAT = re.compile(r"(?is)\bFORMAT\s+(\w+)\s*;?\s*$")
_CODE = re.compile(r"Code: (\d+)")


def _decompress(data: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return data
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(data))
    if encoding == "zstd":
        from backports import zstd  # type: ignore[import-not-found,unused-ignore]

        return bytes(zstd.decompress(data))
    if encoding == "gzip":
        return gzip.decompress(data)
    raise ValueError(f"unsupported Content-Encoding {encoding}")


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away (a killed worker) is no error of ours
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ChdbHttpServer:
    def __init__(self, path: Path) -> None:
        self._conn = chdb.connect(str(path))
        self._lock = threading.Lock()
        self._settings: dict[str, str] = {}
        handler = type("Handler", (_Handler,), {"engine": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, database: str) -> str:
        return f"http://127.0.0.1:{self.port}/{database}"

    def execute(
        self, statement: str, data: bytes, database: str | None, params: dict[str, str]
    ) -> tuple[bytes, str | None]:
        """Run one request; the response body and its format (None for no result set)."""
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {
            k: v for k, v in params.items() if k not in _TRANSPORT and not k.startswith("param_")
        }
        with self._lock:
            self._conn.query(f"USE {database or 'default'}", "TabSeparated")
            for key, value in settings.items():
                if self._settings.get(key) != value:
                    self._conn.query(f"SET {key} = '{value}'", "TabSeparated")
                    self._settings[key] = value
            if data:
                match = _INSERT.match(statement)
                if match is None:
                    raise ValueError("data sent with a statement that is not INSERT … FORMAT")
                with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as tmp:
                    tmp.write(data)
                try:
                    sql = f"{match[1]} FROM INFILE '{tmp.name}' FORMAT {match[2]}"
                    self._conn.query(sql, "TabSeparated")
                finally:
                    os.unlink(tmp.name)
                return b"", None
            fmt = _TRAILING_FORMAT.search(statement)
            if fmt:
                return self._conn.query(statement, fmt[1], params=binds).bytes() or b"", fmt[1]
            # a statement with a result set prints at least its names line
            body = self._conn.query(statement, "TabSeparatedWithNames", params=binds).bytes()
            if not body:
                return b"", None
            return body.split(b"\n", 1)[1], "TabSeparated"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with self._lock:
            self._conn.close()


class _Handler(BaseHTTPRequestHandler):
    engine: ChdbHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return _decompress(raw, self.headers.get("Content-Encoding"))

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/"):
            params = dict(parse_qsl(url.query, keep_blank_values=True))
        else:
            params = {}
        body = self._body()
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            # large parameters (and the query) travel as form fields
            params.update(_form_fields(content_type, body))
            body = b""
        if url.path == "/ping" or (url.path == "/" and not params and not body):
            self._reply(200, b"Ok.\n", {})
            return
        statement = params.get("query", "")
        data = body
        if not statement:
            if body[:6].upper() == b"INSERT" and b"\n" in body:
                head, data = body.split(b"\n", 1)
                statement = head.decode()
            else:
                statement, data = body.decode(), b""
        try:
            out, fmt = self.engine.execute(statement, data, params.get("database"), params)
        except Exception as exc:
            message = str(exc).encode()
            code = _CODE.search(str(exc))
            self._reply(
                500,
                message,
                {"X-ClickHouse-Exception-Code": code[1] if code else "1001"},
            )
            return
        headers = {"X-ClickHouse-Timezone": "UTC", "X-ClickHouse-Query-Id": "local"}
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        self._reply(200, out, headers)
