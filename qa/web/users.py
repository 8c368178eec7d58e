"""Chat users for the optional sign-in: `name:password-hash` entries, hashed with the standard library's scrypt."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path

from ..config import ServerSettings
from ..errors import SettingsError

# scrypt's own recommended interactive cost (n = 2^14, r = 8, p = 1: 16 MiB, ~50 ms here), as in
# the Python docs and OWASP's password storage cheat sheet.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCHEME = "scrypt"
_NAME = re.compile(r"^[\w.@+-]{1,64}$")


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash` (base64) for a password; a new random salt each time."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a stored `scrypt$...` hash (compared in constant time)."""
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != SCHEME:
        return False
    expected = base64.b64decode(digest)
    return hmac.compare_digest(_scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected)), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = 32) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def valid_name(name: str) -> bool:
    """A user name of letters, digits and `._@+-`, at most 64 characters."""
    return bool(_NAME.match(name))


def parse_entry(entry: str, where: str) -> tuple[str, str]:
    """`name:hash` -> (name, hash); a plain password or a malformed line is a SettingsError naming `where`."""
    name, _, stored = entry.strip().partition(":")
    parts = stored.split("$")
    if not valid_name(name) or len(parts) != 6 or parts[0] != SCHEME or not all(x.isdigit() for x in parts[1:4]):
        raise SettingsError(
            f"{where}: {name or entry[:20]!r} is not a `name:scrypt$...` entry. Passwords are stored hashed: "
            "make an entry with `python -m qa users add NAME` (or `--file PATH` to write it to a users file)."
        )
    try:
        base64.b64decode(parts[4], validate=True)
        base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise SettingsError(f"{where}: the hash of {name!r} is damaged; make it again with `python -m qa users add {name}`") from None
    return name, stored


def load_users(settings: ServerSettings) -> dict[str, str]:
    """name -> password hash from QA_CHAT_USERS and QA_CHAT_USERS_FILE; empty when sign-in is off."""
    users: dict[str, str] = {}
    for entry in settings.chat_users:
        name, stored = parse_entry(entry, "QA_CHAT_USERS")
        users[name] = stored
    if settings.chat_users_file:
        path = Path(settings.chat_users_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise SettingsError(f"QA_CHAT_USERS_FILE={str(path)!r} cannot be read: {error.strerror or error}") from error
        for number, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                name, stored = parse_entry(line, f"{path} line {number}")
                users[name] = stored
        if not users:
            raise SettingsError(f"QA_CHAT_USERS_FILE={str(path)!r} holds no user: add one with `python -m qa users add NAME --file {path}`")
    return users


class Users:
    """The sign-in check over a fixed set of users."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.dummy = hash_password(secrets.token_urlsafe(16))
        # Scripts send HTTP Basic credentials with every request: a pair that matched once is
        # remembered (as a keyed digest, never in clear) instead of paying scrypt's ~50 ms each time.
        self._key = secrets.token_bytes(32)
        self._matched: set[bytes] = set()

    @property
    def enabled(self) -> bool:
        """Sign-in is on when at least one user is configured."""
        return bool(self.users)

    def check(self, name: str, password: str) -> bool:
        """Whether the name and password match a user; an unknown name takes as long as a wrong password."""
        stored = self.users.get(name)
        pair = hmac.digest(self._key, f"{name}\x00{password}\x00{stored}".encode(), "sha256")
        if stored is not None and pair in self._matched:
            return True
        matched = verify_password(password, stored or self.dummy) and stored is not None
        if matched:
            if len(self._matched) > 1000:
                self._matched.clear()
            self._matched.add(pair)
        return matched


def add_user(name: str, password: str, path: Path | None) -> str:
    """A `name:hash` line for the user; with `path`, written there (replacing that user's old line)."""
    if not valid_name(name):
        raise SettingsError(f"{name!r} is not a user name: use letters, digits and . _ @ + - (at most 64)")
    if not password:
        raise SettingsError("the password is empty")
    line = f"{name}:{hash_password(password)}"
    if path is not None:
        kept = [x for x in (path.read_text(encoding="utf-8").splitlines() if path.exists() else []) if x.partition(":")[0].strip() != name]
        path.write_text("\n".join([*kept, line]) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return line
