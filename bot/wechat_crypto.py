"""WeChat Official Account signatures and safe-mode (AES-256-CBC) message encryption.

Plain signature: sha1(sorted([token, timestamp, nonce])).
Safe mode: msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt])); the Encrypt field is
base64(AES-256-CBC(key, iv=key[:16], PKCS7-32(random16 + len(msg) as 4-byte big-endian + msg + appid))),
key = base64decode(EncodingAESKey + "=").
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class WeChatCryptoError(Exception):
    """Bad signature, bad ciphertext, bad padding or wrong appid."""


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """Constant-time check of the plain request signature."""
    if not (token and signature and timestamp and nonce):
        return False
    return hmac.compare_digest(_b(sha1_signature(token, timestamp, nonce)), _b(signature.lower()))


def check_msg_signature(token: str, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bool:
    """Constant-time check of the safe-mode message signature (covers the ciphertext)."""
    if not (token and msg_signature and timestamp and nonce and encrypt):
        return False
    return hmac.compare_digest(_b(sha1_signature(token, timestamp, nonce, encrypt)), _b(msg_signature.lower()))


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    if not data:
        raise WeChatCryptoError("empty plaintext")
    n = data[-1]
    if n < 1 or n > block or data[-n:] != bytes([n]) * n:
        raise WeChatCryptoError("bad padding")
    return data[:-n]


class WeChatCrypto:
    """Encrypt/decrypt safe-mode messages for one account (token, EncodingAESKey, appid)."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("invalid EncodingAESKey") from exc
        if len(encoding_aes_key) != 43 or len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (32 bytes)")
        self.token = token
        self.app_id = app_id
        self._key = key
        self._iv = key[:16]

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def encrypt(self, plaintext: str, random16: bytes | None = None) -> str:
        msg = plaintext.encode("utf-8")
        rnd = random16 if random16 is not None else os.urandom(16)
        data = pkcs7_pad(rnd + struct.pack(">I", len(msg)) + msg + self.app_id.encode("utf-8"))
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WeChatCryptoError("bad base64") from exc
        if not raw or len(raw) % 16:
            raise WeChatCryptoError("bad ciphertext length")
        dec = self._cipher().decryptor()
        data = pkcs7_unpad(dec.update(raw) + dec.finalize())
        if len(data) < 20:
            raise WeChatCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", data[16:20])
        if 20 + length > len(data):
            raise WeChatCryptoError("bad length")
        msg, app_id = data[20:20 + length], data[20 + length:]
        if not hmac.compare_digest(app_id, self.app_id.encode("utf-8")):
            raise WeChatCryptoError("appid mismatch")
        try:
            return msg.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WeChatCryptoError("plaintext not UTF-8") from exc

    def decrypt_message(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Verify msg_signature, then decrypt. Raises WeChatCryptoError."""
        if not check_msg_signature(self.token, msg_signature, timestamp, nonce, encrypt):
            raise WeChatCryptoError("bad msg_signature")
        return self.decrypt(encrypt)

    def encrypt_message(self, xml: str, nonce: str, timestamp: str | None = None) -> str:
        """Wrap a reply XML in the safe-mode envelope."""
        ts = timestamp or str(int(time.time()))
        encrypt = self.encrypt(xml)
        sig = sha1_signature(self.token, ts, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{ts}</TimeStamp><Nonce><![CDATA[{_cdata_safe(nonce)}]]></Nonce></xml>"
        )


def _cdata_safe(s: str) -> str:
    return s.replace("]]>", "]]]]><![CDATA[>")
