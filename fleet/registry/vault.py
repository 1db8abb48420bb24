"""Secrets at rest in the registry (wristband bind keys): a libsodium secret box.

The key is 32 random bytes kept outside the database (a file in the fleet's data dir,
mode 0600, or a setting), so a copy of the database alone does not give the keys away.
Stored values read ``sb1:<base64(nonce + ciphertext)>``; a bare 32-hex-digit value is a
key stored in clear before encryption existed, still readable and re-encrypted at start.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random

from fleet.errors import FleetError

_PREFIX = "sb1:"
_LEGACY = re.compile(r"^[0-9a-f]{32}$")


class VaultError(FleetError):
    """A secret that cannot be opened, or a key that cannot be loaded."""


class Vault:
    def __init__(self, key: bytes) -> None:
        if len(key) != SecretBox.KEY_SIZE:
            raise VaultError(f"the registry key must be {SecretBox.KEY_SIZE} bytes")
        self._box = SecretBox(key)
        self._key = key

    def derive_key(self, purpose: str) -> bytes:
        """A key for another purpose (e.g. signing acknowledge links), derived from the
        registry key so that fleet instances sharing ``secret_key`` share it too."""
        return hmac.new(self._key, f"silverguard/{purpose}".encode(), hashlib.sha256).digest()

    @classmethod
    def from_setting(cls, text: str) -> "Vault":
        try:
            return cls(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise VaultError("secret_key is not base64 of 32 bytes") from None

    @classmethod
    def from_file(cls, path: Path) -> "Vault":
        """Load the key, creating it (mode 0600) the first time."""
        try:
            return cls.from_setting(path.read_text().strip())
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return cls.from_setting(path.read_text().strip())
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(random(SecretBox.KEY_SIZE)).decode() + "\n")
        return cls.from_setting(path.read_text().strip())

    def seal(self, secret: bytes) -> str:
        return _PREFIX + base64.b64encode(bytes(self._box.encrypt(secret))).decode()

    def open(self, stored: str) -> bytes:
        if _LEGACY.match(stored):
            return bytes.fromhex(stored)
        if not stored.startswith(_PREFIX):
            raise VaultError("stored secret has an unknown format")
        try:
            return self._box.decrypt(base64.b64decode(stored[len(_PREFIX) :], validate=True))
        except (CryptoError, binascii.Error, ValueError):
            raise VaultError(
                "stored secret cannot be opened with this fleet's key "
                "(do all fleet instances share secret_key?)"
            ) from None

    @staticmethod
    def is_legacy(stored: str) -> bool:
        return bool(_LEGACY.match(stored))
