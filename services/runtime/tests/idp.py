"""A local OpenID Connect provider for tests: a real HTTP server on 127.0.0.1 serving a discovery document and a
JWKS of keys generated here (RSA and EC), and signing tokens with them — so verification is tried over the wire."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    """A provider key: private part to sign, public JWK to publish."""

    kid: str
    alg: str
    private: Any

    @classmethod
    def generate(cls, alg: str = "RS256", kid: str | None = None) -> "SigningKey":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg.startswith("RS") \
            else ec.generate_private_key(ec.SECP256R1())
        return cls(kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg, private)

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        return {**algorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig",
                "alg": self.alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class LocalIdp:
    """The provider: ``keys`` is what its JWKS publishes now (tests rotate it); ``hits`` counts JWKS requests."""

    audience: str = "baoxue-test"
    keys: list[SigningKey] = field(default_factory=list)
    hits: int = 0
    discovery_hits: int = 0
    discovery_issuer: str | None = None  # what the discovery document claims (default: the real issuer)

    def start(self) -> "LocalIdp":
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/.well-known/openid-configuration":
                    idp.discovery_hits += 1
                    body = {"issuer": idp.discovery_issuer or idp.issuer, "jwks_uri": idp.jwks_url,
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == "/jwks":
                    idp.hits += 1
                    body = {"keys": [k.jwk() for k in idp.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks"

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.audience, "sub": "officer-oidc-1", "role": "county_officer",
                  "jur": "520102", "iat": now, "nbf": now, "exp": now + 600}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})})
