# SPDX-License-Identifier: Apache-2.0
"""Client side of Sync 1.5 authentication, written for the tests.

* derive_key / mint_token -- tokenlib v1 tokens (doc/sync-auth.md
  section 1), built from hashlib and hmac so the C server is checked against an independent issuer;
* hawk_header -- a Hawk `Authorization` header (section 2);
* SyncClient -- signs every request to a storage node;
* FakeVerifier -- a local FxA OAuth verifier (`POST /v1/verify`) answering
  from a table the test fills.
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

SIGNING_INFO = b"services.mozilla.com/tokenlib/v1/signing"
DERIVE_INFO = b"services.mozilla.com/tokenlib/v1/derive/"
OLDSYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"


def hkdf_sha256(ikm, salt, info, length=32):
    """RFC 5869 HKDF with SHA-256; salt None means HashLen zero bytes."""
    if not salt:
        salt = b"\0" * 32
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, n = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([n]), hashlib.sha256).digest()
        out += block
        n += 1
    return out[:length]


def _b(s):
    return s.encode() if isinstance(s, str) else s


def derive_key(secret, token):
    """The Hawk key (44 ASCII chars) of a token minted with `secret`."""
    raw = base64.urlsafe_b64decode(_b(token))
    payload = json.loads(raw[:-32].decode())
    key = hkdf_sha256(_b(secret), payload["salt"].encode(),
                      DERIVE_INFO + _b(token))
    return base64.urlsafe_b64encode(key).decode()


def sign_payload(secret, payload_bytes):
    """tokenlib v1: urlsafe base64 of payload || HMAC(sig_key, payload)."""
    sig_key = hkdf_sha256(_b(secret), None, SIGNING_INFO)
    sig = hmac.new(sig_key, payload_bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload_bytes + sig).decode()


def mint_token(secret, uid, node, expires, salt=None, **extra):
    """A tokenlib v1 token and its derived key; `extra` adds payload fields
    (a value of None drops a mandatory field, for negative tests)."""
    data = {"uid": uid, "node": node, "expires": expires,
            "salt": salt if salt is not None else os.urandom(3).hex()}
    data.update(extra)
    data = {k: v for k, v in data.items() if v is not None}
    token = sign_payload(secret, json.dumps(data).encode())
    if "salt" not in data:
        return token, None
    return token, derive_key(secret, token)


def _quote(v):
    return v.replace("\\", "\\\\").replace('"', '\\"')


def hawk_mac(key, ts, nonce, method, url, hash_="", ext=""):
    """base64 HMAC-SHA256 of Hawk's normalised string for `url`."""
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    target = u.path + ("?" + u.query if u.query else "")
    ext = ext.replace("\\", "\\\\").replace("\n", "\\n")
    norm = "hawk.1.header\n%s\n%s\n%s\n%s\n%s\n%d\n%s\n%s\n" % (
        ts, nonce, method.upper(), target, u.hostname.lower(), port,
        hash_, ext)
    return base64.b64encode(hmac.new(_b(key), norm.encode(),
                                     hashlib.sha256).digest()).decode()


def payload_hash(body, content_type):
    mime = (content_type or "").split(";")[0].strip().lower()
    h = hashlib.sha256(b"hawk.1.payload\n" + mime.encode() + b"\n" +
                       _b(body or b"") + b"\n").digest()
    return base64.b64encode(h).decode()


def hawk_header(token, key, method, url, body=b"", content_type=None,
                ts=None, nonce=None, with_hash=False, ext=None):
    """`Authorization` value signing (method, url) with `key`."""
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce if nonce is not None else \
        base64.urlsafe_b64encode(os.urandom(6)).decode()
    h = payload_hash(body, content_type) if with_hash else ""
    mac = hawk_mac(key, ts, nonce, method, url, h, ext or "")
    parts = ['id="%s"' % _quote(token), 'ts="%s"' % ts,
             'nonce="%s"' % _quote(nonce)]
    if h:
        parts.append('hash="%s"' % h)
    if ext:
        parts.append('ext="%s"' % _quote(ext))
    parts.append('mac="%s"' % mac)
    return "Hawk " + ", ".join(parts)


class SyncClient:
    """Hawk-signed requests to `base_url` (the api path such as
    /1.5/<uid>/... is passed to request()). Requests are signed for
    `public_url` (default: base_url), as a client behind a proxy does."""

    def __init__(self, base_url, token, key, timeout=30, public_url=None):
        self.base_url = base_url.rstrip("/")
        self.public_url = (public_url or base_url).rstrip("/")
        self.token, self.key, self.timeout = token, key, timeout
        self.session = requests.Session()

    def request(self, method, path, body=None, headers=None,
                content_type="application/json", raw=False, **hawk):
        url = self.base_url + path
        signed_url = self.public_url + path
        if body is not None and not raw and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        data = _b(body) if body is not None else b""
        hdrs = {}
        if body is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs["Authorization"] = hawk_header(
            self.token, self.key, method, signed_url, data,
            content_type if body is not None else None, **hawk)
        hdrs.update(headers or {})
        return self.session.request(method, url, data=data if body is not None
                                    else None, headers=hdrs,
                                    timeout=self.timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class FakeVerifier:
    """A local OAuth verifier: `POST /v1/verify` {"token": t} answers
    table[t] -- a dict (200, JSON) or an int (that status, FxA-like error
    body); an unknown token gets 400 errno 108. `.calls` lists the tokens
    asked for; `.url` is the base URL for `oauth_verifier`."""

    def __init__(self):
        self.table, self.calls = {}, []
        self.status_all = None       # set to e.g. 500 to fail every call
        verifier = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    token = json.loads(raw).get("token")
                except (ValueError, AttributeError):
                    token = None
                verifier.calls.append(token)
                if self.path != "/v1/verify":
                    return self._reply(404, {"code": 404, "errno": 999})
                if verifier.status_all:
                    return self._reply(verifier.status_all, {"errno": 999})
                ans = verifier.table.get(token)
                if ans is None:
                    return self._reply(400, {"code": 400, "errno": 108,
                                             "message": "Invalid token"})
                if isinstance(ans, int):
                    return self._reply(ans, {"code": ans, "errno": 999})
                return self._reply(200, ans)

            def _reply(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def add(self, bearer, user, generation=None, scope=(OLDSYNC_SCOPE,),
            client_id="5882386c6d801776"):
        """Make `bearer` verify as FxA `user` (32 hex)."""
        ans = {"user": user, "client_id": client_id, "scope": list(scope)}
        if generation is not None:
            ans["generation"] = generation
        self.table[bearer] = ans

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def key_id(keys_changed_at, kb=None, client_state=None):
    """X-KeyID value: `<kca>-<base64url nopad of the state>`; the state is
    SHA-256(kB)[:16] or the raw 16 bytes `client_state` given in hex."""
    if client_state is None:
        client_state = hashlib.sha256(_b(kb or b"kB")).digest()[:16].hex()
    raw = bytes.fromhex(client_state)
    return "%d-%s" % (keys_changed_at,
                      base64.urlsafe_b64encode(raw).decode().rstrip("="))
