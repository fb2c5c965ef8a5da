"""Request/response over the bus: one persistent reply subscription, a future per request."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from tars.contracts.envelope import DecodeError, new_id
from tars.contracts.topics import TopicSpec
from tars.runtime.bus import Message, Subscription
from tars.runtime.errors import RequestCancelled, RequestTimeout
from tars.runtime.service import Inbound, Service

R = TypeVar("R", bound=BaseModel)
log = logging.getLogger("tars.request")


class Requester(Generic[R]):
    """Sends ``request`` messages and resolves futures from ``reply`` messages.

    A reply is matched by ``in_reply_to`` (the request envelope id), so several requests of
    one turn (same correlation id) can be pending at once. Every future has a timeout and is
    popped when it completes, times out or is cancelled; replies for nobody are counted as
    ``late`` (the request already timed out) or ``unmatched`` and dropped.
    """

    def __init__(self, service: Service, request: TopicSpec, reply: TopicSpec, *,
                 timeout_s: float = 5.0) -> None:
        self.service = service
        self.request_spec = request
        self.reply_spec = reply
        self.timeout_s = timeout_s
        self.pending: dict[str, asyncio.Future[Inbound[R]]] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._sub: Subscription | None = None
        self.late = 0
        self.unmatched = 0
        self.timeouts = 0

    async def start(self) -> None:
        """Subscribe once to the reply topic (call after the service has started)."""
        if self._sub is None:
            self._sub = await self.service.bus.subscribe(self.reply_spec.filter, self._on_reply,
                                                         qos=self.reply_spec.qos)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.cancel()
            self._sub = None
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(RequestCancelled("requester closed"))
        self.pending.clear()

    async def request(self, payload: BaseModel, *, correlation_id: str | None = None,
                      site_id: str | None = None, timeout_s: float | None = None) -> Inbound[R]:
        """Publish ``payload`` and wait for its reply; raises RequestTimeout / RequestCancelled."""
        if self._sub is None:
            await self.start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Inbound[R]] = loop.create_future()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        env = None
        key = new_id()
        self.pending[key] = fut
        try:
            env = await self.service.publish(self.request_spec, payload, correlation_id=correlation_id,
                                             site_id=site_id, expiry_s=timeout + 1, envelope_id=key)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self.timeouts += 1
            raise RequestTimeout(
                f"no {self.reply_spec.model.__name__} within {timeout:.1f}s "
                f"(correlation {correlation_id or (env.correlation_id if env else '?')})"
            ) from None
        except asyncio.CancelledError:
            raise
        finally:
            self.pending.pop(key, None)
            if not fut.done():
                fut.cancel()
            self._gone[key] = None
            if len(self._gone) > 4096:
                self._gone.popitem(last=False)

    async def _on_reply(self, msg: Message) -> None:
        try:
            inbound: Inbound[Any] = self.service.decode(self.reply_spec, msg)
        except DecodeError as exc:
            await self.service.report_error("decode", str(exc), topic=msg.topic)
            return
        key = inbound.envelope.in_reply_to
        fut = self.pending.get(key) if key else None
        if fut is None:
            if key is not None and key in self._gone:
                self.late += 1
            else:
                self.unmatched += 1
            return
        if not fut.done():
            fut.set_result(inbound)
