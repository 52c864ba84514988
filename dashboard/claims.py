"""Claims: an operator takes an alert or a case for a while, so two operators never work the same item at once.

A claim is one Redis key (``SET NX PX``): whoever set it holds the item until it expires (``auth.claim_seconds``)
or is released. The holder renews by claiming again; anyone else is refused with the holder's name. Renew and
release compare the holder inside Redis (a small script), so a claim that expired and went to someone else is
never extended or dropped by its former holder.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from gridwatch import keys

KINDS = ("alert", "case")

# Renew only our own claim: KEYS[1] the claim, ARGV[1] the holder's username, ARGV[2] the value, ARGV[3] ttl ms.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if not v then
  if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
  return redis.call('GET', KEYS[1])
end
if cjson.decode(v)['username'] == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return v
"""
# Release only our own claim (or any claim when ARGV[2] is "1": a supervisor clearing a stale one).
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if ARGV[2] == '1' or cjson.decode(v)['username'] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return v
"""


def key(kind: str, item_id: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"claims are on {' or '.join(KINDS)}, not {kind!r}")
    return keys.claim(kind, item_id)


@dataclass(frozen=True, slots=True)
class Claim:
    kind: str
    item_id: str
    username: str
    display_name: str
    until: float  # epoch seconds

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.item_id, "username": self.username,
                "display_name": self.display_name,
                "until": datetime.fromtimestamp(self.until, UTC).isoformat(timespec="seconds")}


class ClaimHeldError(RuntimeError):
    """Someone else holds the item; ``holder`` says who and until when."""

    def __init__(self, holder: Claim) -> None:
        self.holder = holder
        super().__init__(f"{holder.kind} {holder.item_id} is being worked on by {holder.display_name} "
                         f"({holder.username})")


def _parse(kind: str, item_id: str, raw: Any) -> Claim:
    d = json.loads(raw)
    return Claim(kind, item_id, str(d["username"]), str(d.get("display_name") or d["username"]),
                 float(d.get("until", 0)))


class Claims:
    def __init__(self, client: redis.Redis, ttl_seconds: float) -> None:
        self._redis = client
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    def claim(self, kind: str, item_id: str, username: str, display_name: str) -> Claim:
        """Take (or renew) the item for ``username``; ClaimHeldError when someone else has it."""
        until = time.time() + self._ttl_ms / 1000
        value = json.dumps({"username": username, "display_name": display_name, "until": until},
                           ensure_ascii=False)
        result = self._redis.eval(_RENEW, 1, key(kind, item_id), username, value, str(self._ttl_ms))
        if result == 1:
            return Claim(kind, item_id, username, display_name, until)
        raise ClaimHeldError(_parse(kind, item_id, result))

    def holder(self, kind: str, item_id: str) -> Claim | None:
        raw = self._redis.get(key(kind, item_id))
        return None if raw is None else _parse(kind, item_id, raw)

    def release(self, kind: str, item_id: str, username: str, force: bool = False) -> bool:
        """Drop the claim if ``username`` holds it (any holder with ``force``); False when there was none."""
        result = self._redis.eval(_RELEASE, 1, key(kind, item_id), username, "1" if force else "0")
        if result in (0, 1):
            return bool(result)
        raise ClaimHeldError(_parse(kind, item_id, result))

    def check_free_for(self, kind: str, item_id: str, username: str) -> None:
        """ClaimHeldError unless the item is unclaimed or claimed by ``username``."""
        holder = self.holder(kind, item_id)
        if holder is not None and holder.username != username:
            raise ClaimHeldError(holder)
