"""Worker pools: a pool member's name, shared subscriptions and the site split of a pool."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tars.contracts.topics import TopicSpec
from tars.runtime.bus import shared_filter


def member_name(role: str, index: int) -> str:
    """The first instance of a pool is ``role``; the others ``role-2``, ``role-3``, ..."""
    return role if index == 0 else f"{role}-{index + 1}"


def site_owner(site: str, size: int) -> int:
    """The pool member (0-based) that handles ``site``: a stable hash, the same in every
    process and on every machine (not Python's salted ``hash``); see ``Pool.owns``."""
    if size <= 1:
        return 0
    # a digest, not crc32: crc32 is linear, and "room0".."room3" would all land on one member
    return int.from_bytes(hashlib.blake2b(site.encode(), digest_size=8).digest(), "big") % size


@dataclass(frozen=True)
class Pool:
    """Where one instance stands in its role's pool: ``index`` of ``size`` members. ``home`` is
    the workers' own site (the machine's microphone and speaker): always member 0's."""

    role: str
    size: int = 1
    index: int = 0
    home: str | None = None

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.index < self.size:
            raise ValueError(f"pool: index {self.index} is not in a pool of {self.size}")

    @property
    def member(self) -> str:
        return member_name(self.role, self.index)

    def filter(self, spec: TopicSpec, topic_filter: str) -> str:
        """The filter to subscribe: ``$share/<role>/...`` where the role pools the topic, in a
        pool of more than one (a lone instance keeps a plain subscription: a crashed process's
        lingering session must not take a share of the requests of the one restarted)."""
        pooled = self.size > 1 and self.role in spec.shared
        return shared_filter(self.role, topic_filter) if pooled else topic_filter

    @property
    def session_expiry_s(self) -> int:
        """How long the broker keeps a lost member's session: short in a pool, where a dead
        session would keep taking its share of the requests; 300 s for a lone instance."""
        return 10 if self.size > 1 else 300

    def splits(self, spec: TopicSpec) -> bool:
        return self.size > 1 and self.role in spec.by_site

    def owns(self, site: str | None) -> bool:
        """Whether this member handles ``site`` (the home site or none: member 0)."""
        if not site or site == self.home:
            return self.index == 0
        return site_owner(site, self.size) == self.index
