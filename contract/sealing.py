"""Secrets sealed to one gateway: libsodium sealed boxes (PyNaCl).

The gateway makes a Curve25519 key pair at enrollment and keeps the private key
(file mode 0600); the fleet knows only the public key. Anything sealed to it — bind
keys, caregivers' numbers — can be opened by that gateway alone, so the retained
config the broker persists holds no secret in clear.
"""

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox


class SealError(ValueError):
    """A sealed value that cannot be opened or a key that is not a key."""


def generate_keypair() -> tuple[str, str]:
    """Return (private key, public key), both base64."""
    private = PrivateKey.generate()
    return (
        base64.b64encode(bytes(private)).decode(),
        base64.b64encode(bytes(private.public_key)).decode(),
    )


def _key_bytes(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise SealError(f"{what} is not a 32-byte Curve25519 key")
    return raw


def seal(public_key: str, secret: bytes) -> str:
    box = SealedBox(PublicKey(_key_bytes(public_key, "public key")))
    return base64.b64encode(box.encrypt(secret)).decode()


def unseal(private_key: str, sealed: str) -> bytes:
    box = SealedBox(PrivateKey(_key_bytes(private_key, "private key")))
    try:
        return box.decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, binascii.Error, ValueError):
        raise SealError("sealed value could not be opened with this gateway's key") from None
