"""The ``Router``: which of the seller's handlers a notification goes to, and how they are called.

Shaped like aiogram's routers, with one difference that durable jobs impose: *every* matching
handler runs (each as its own job, retried on its own), not only the first one.

- ``router.on(*types, *filters, **field_filters)`` registers a handler. Types are model classes
  (``OrderStatusUpdated``), type names (``"ORDER_STATUS_UPDATED"``, or a name this version does
  not know yet), ``UnknownNotification`` (the catch-all for new Market types) or ``Notification``
  (everything); none at all also means everything. Field filters compare an attribute
  (``status="CANCELLED"``), test membership (``status={"CANCELLED", "DELIVERED"}``) or call a
  predicate (``campaign_id=lambda v: v in mine``); positional callables get the whole event.
- Routers nest (``include_router``). Outer middlewares wrap every handler of the router and of
  the routers inside it, root first; inner middlewares wrap only the router's own handlers. A
  middleware is ``async def mw(handler, event, data)`` and calls ``await handler(event, data)``
  (or does not, and returns ``UNHANDLED``).
- A handler's first parameter gets the event; every other parameter is looked up by name in
  ``data``: the dependencies given at start-up (or yielded by ``@router.lifespan``), ``meta``
  (``EventMeta``), and whatever middlewares add. ``**kwargs`` receives all of it.
- ``@router.errors`` observers hear of every failed attempt (``error`` is injected), nearest
  router first; they cannot swallow the failure: the retry policy decides what follows.
- Returning ``UNHANDLED`` says "not mine after all": the job ends as unhandled, not done.
- Sync handlers run in a thread pool; a sync handler that outlives its timeout keeps its job
  (and lane) until it returns, because a thread cannot be stopped.

Matching (types and filters) happens once, when a worker plans the notification's jobs, so
filters should be quick and pure. Middlewares and handlers run for each attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import difflib
import enum
import functools
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ymnotify.errors import ConfigError, MissingDependency, NotFound
from ymnotify.protocol.enums import NotificationType
from ymnotify.protocol.models import KNOWN_TYPES, Notification, Ping, UnknownNotification


class _Unhandled:
    _instance: _Unhandled | None = None

    def __new__(cls) -> _Unhandled:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNHANDLED"


UNHANDLED: Final = _Unhandled()
"""Returned by a handler or middleware: this notification is not for it (the job ends unhandled)."""

Data = dict[str, Any]
NextHandler = Callable[[Notification, Data], Awaitable[Any]]
Middleware = Callable[[NextHandler, Notification, Data], Awaitable[Any]]
EventFilter = Callable[[Notification], Any]  # returns a bool, or an awaitable of one
LifespanFactory = Callable[[], contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]]
F = TypeVar("F", bound=Callable[..., Any])

RESERVED_NAMES = frozenset({"meta", "error"})
logger = logging.getLogger("ymnotify.dispatch")


@dataclass(frozen=True, slots=True)
class _Signature:
    """How to call a function: the event first, then parameters injected by name."""

    injected: tuple[str, ...]  # parameters without defaults that must be supplied
    optional: tuple[str, ...]  # parameters with defaults, supplied when present
    takes_everything: bool  # has **kwargs

    @classmethod
    def of(cls, func: Callable[..., Any], what: str) -> _Signature:
        try:
            parameters = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"cannot read the parameters of {what}: {exc}") from exc
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if not parameters or parameters[0].kind not in positional:
            raise ConfigError(f"{what} must take the event as its first positional parameter")
        injected, optional, everything = [], [], False
        for parameter in parameters[1:]:
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                everything = True
            elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ConfigError(f"{what}: parameter {parameter.name!r} cannot be injected")
            elif parameter.default is inspect.Parameter.empty:
                injected.append(parameter.name)
            else:
                optional.append(parameter.name)
        return cls(tuple(injected), tuple(optional), everything)

    def arguments(self, data: Data, owner: str, kind: str = "handler") -> dict[str, Any]:
        missing = [name for name in self.injected if name not in data]
        if missing:  # **kwargs takes what there is; a named required parameter still needs it
            raise MissingDependency(owner, missing, kind=kind)
        if self.takes_everything:
            return dict(data)
        return {name: data[name] for name in (*self.injected, *self.optional) if name in data}


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """``name=expected``: equality, membership in a set/list/tuple, or a predicate."""

    name: str
    expected: Any

    def passes(self, event: Notification) -> bool:
        if not hasattr(event, self.name):
            return False
        value = getattr(event, self.name)
        if callable(self.expected) and not isinstance(self.expected, type):
            return bool(self.expected(value))
        if isinstance(self.expected, set | frozenset | list | tuple):
            return value in self.expected
        return bool(value == self.expected)


@dataclass(frozen=True, slots=True, eq=False)
class HandlerSpec:
    """A registered handler: its stable name (the job key), what it takes, how to call it."""

    name: str
    func: Callable[..., Any]
    router: Router
    models: tuple[type[Notification], ...]  # isinstance matches; empty and no names: every type
    unknown_names: frozenset[str]  # notificationType values this version does not know
    field_filters: tuple[FieldFilter, ...]
    filters: tuple[EventFilter, ...]
    signature: _Signature
    is_async: bool

    def accepts_type(self, event: Notification) -> bool:
        if not self.models and not self.unknown_names:
            return True
        if isinstance(event, self.models):
            return True
        return isinstance(event, UnknownNotification) and (
            event.notification_type in self.unknown_names
        )

    async def matches(self, event: Notification) -> bool:
        """Whether ``event`` goes to this handler (its types, field filters and filters)."""
        if not self.accepts_type(event):
            return False
        if not all(field_filter.passes(event) for field_filter in self.field_filters):
            return False
        for event_filter in self.filters:
            if not await _maybe_await(event_filter(event)):
                return False
        return True

    async def invoke(self, event: Notification, data: Data, executor: Executor | None) -> Any:
        """Call the function itself (no middlewares), injecting its parameters from ``data``."""
        kwargs = self.signature.arguments(data, self.name)
        if self.is_async:
            return await self.func(event, **kwargs)
        return await run_in_thread(executor, self.func, event, **kwargs)


@dataclass(frozen=True, slots=True, eq=False)
class _ErrorObserver:
    func: Callable[..., Any]
    signature: _Signature

    @property
    def name(self) -> str:
        return _default_name(self.func) or repr(self.func)


class Router:
    """Handlers, filters, middlewares, error observers and nested routers."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or "router"
        self.parent: Router | None = None
        self._handlers: list[HandlerSpec] = []
        self._children: list[Router] = []
        self._outer: list[Middleware] = []
        self._inner: list[Middleware] = []
        self._error_observers: list[_ErrorObserver] = []
        self._lifespans: list[LifespanFactory] = []

    def __repr__(self) -> str:
        return (
            f"<Router {self.name!r}: {len(self._handlers)} handlers, {len(self._children)} nested>"
        )

    # -- registration --------------------------------------------------------------------------

    def on(
        self, *types_and_filters: Any, name: str | None = None, **field_filters: Any
    ) -> Callable[[F], F]:
        """Decorator: register a handler for these types, filters and field filters."""

        def decorate(func: F) -> F:
            self.register(func, *types_and_filters, name=name, **field_filters)
            return func

        return decorate

    def register(
        self,
        func: Callable[..., Any],
        *types_and_filters: Any,
        name: str | None = None,
        **field_filters: Any,
    ) -> HandlerSpec:
        """Register ``func`` (``on`` without the decorator); returns its spec."""
        handler_name = name or _default_name(func)
        if not handler_name:
            raise ConfigError(f"give {func!r} a name: router.on(..., name='shop.save_order')")
        models: list[type[Notification]] = []
        unknown_names: set[str] = set()
        filters: list[EventFilter] = []
        every_type = False
        for item in types_and_filters:
            if isinstance(item, type) and issubclass(item, Notification):
                if issubclass(item, Ping):
                    raise ConfigError("PING is answered by the receiver and never reaches handlers")
                if item is Notification:
                    every_type = True
                else:
                    models.append(item)
            elif isinstance(item, type):  # callable, but no filter: it would build an object
                raise ConfigError(
                    f"handler {handler_name}: {item.__name__} is not a notification model"
                    " (router.on takes models such as OrderStatusUpdated, type names and filters)"
                )
            elif isinstance(item, enum.Enum) and not isinstance(item, NotificationType):
                field_value = f"{type(item).__name__}.{item.name}"
                raise ConfigError(
                    f"handler {handler_name}: {field_value} is a field's value, not a notification"
                    f" type: filter by field, e.g. router.on(OrderStatusUpdated,"
                    f" status={field_value})"
                )
            elif isinstance(item, str):
                type_name = str(item)
                known = KNOWN_TYPES.get(type_name)
                if known is Ping:
                    raise ConfigError("PING is answered by the receiver and never reaches handlers")
                if known is None:
                    unknown_names.add(_future_type_name(handler_name, type_name))
                else:
                    models.append(known)
            elif callable(item):
                filters.append(item)
            else:
                raise ConfigError(
                    f"router.on() takes notification models, type names and filters, not {item!r}"
                )
        if every_type:
            models, unknown_names = [], set()
        _check_fields(handler_name, models, field_filters)
        spec = HandlerSpec(
            name=handler_name,
            func=func,
            router=self,
            models=tuple(models),
            unknown_names=frozenset(unknown_names),
            field_filters=tuple(FieldFilter(k, v) for k, v in field_filters.items()),
            filters=tuple(filters),
            signature=_Signature.of(func, f"handler {handler_name}"),
            is_async=_is_async(func),
        )
        self._check_names([spec.name])
        self._handlers.append(spec)
        return spec

    def include_router(self, router: Router) -> Router:
        """Nest ``router`` inside this one; returns it."""
        if router.parent is not None:
            raise ConfigError(f"{router!r} is already included in {router.parent!r}")
        if router is self or self in router.walk():
            raise ConfigError("a router cannot include itself or one of its parents")
        self._check_names([spec.name for spec in router.handlers()])
        router.parent = self
        self._children.append(router)
        return router

    def outer_middleware(self, middleware: Middleware) -> Middleware:
        """Wrap every handler of this router and of the routers inside it (usable as decorator)."""
        self._outer.append(middleware)
        return middleware

    def inner_middleware(self, middleware: Middleware) -> Middleware:
        """Wrap only this router's own handlers (usable as decorator)."""
        self._inner.append(middleware)
        return middleware

    def errors(self, observer: F) -> F:
        """Decorator: ``observer(event, error, ...)`` hears of every failed attempt below here."""
        signature = _Signature.of(observer, f"error observer {observer!r}")
        self._error_observers.append(_ErrorObserver(observer, signature))
        return observer

    def lifespan(self, factory: F) -> F:
        """Decorator: an async generator (or async context manager factory) run while workers
        run; the mapping it yields becomes dependencies injected by name."""
        if inspect.isasyncgenfunction(factory):
            self._lifespans.append(contextlib.asynccontextmanager(factory))
        elif inspect.isgeneratorfunction(factory) or inspect.iscoroutinefunction(factory):
            # Either would fail only when the workers start, far from this line.
            raise ConfigError(
                f"router.lifespan: {_default_name(factory) or factory!r} must be an async"
                " generator (async def with one yield of the dependencies) or a factory of async"
                " context managers"
            )
        else:
            self._lifespans.append(factory)
        return factory

    # -- lookup --------------------------------------------------------------------------------

    def walk(self) -> Iterator[Router]:
        """This router, then every nested one, depth first in inclusion order."""
        yield self
        for child in self._children:
            yield from child.walk()

    def handlers(self) -> list[HandlerSpec]:
        """Every handler of this router and the routers inside it, in registration order."""
        return [spec for router in self.walk() for spec in router._handlers]

    def handler(self, name: str) -> HandlerSpec:
        """The handler called ``name``; ``NotFound`` if this router tree has none."""
        for spec in self.handlers():
            if spec.name == name:
                return spec
        raise NotFound(f"no handler named {name!r} in {self!r}")

    async def match(self, event: Notification) -> list[HandlerSpec]:
        """The handlers ``event`` goes to, in registration order."""
        return [spec for spec in self.handlers() if await spec.matches(event)]

    def _check_names(self, names: list[str]) -> None:
        root = self._root()
        taken = {spec.name for spec in root.handlers()}
        clash = sorted(taken.intersection(names)) or sorted(
            {n for n in names if names.count(n) > 1}
        )
        if clash:
            raise ConfigError(
                f"handler name {clash[0]!r} is used twice; names key the jobs, pass name=..."
            )

    def _root(self) -> Router:
        router = self
        while router.parent is not None:
            router = router.parent
        return router

    def _lineage(self) -> list[Router]:
        """The routers from the root down to this one."""
        lineage = [self]
        while lineage[-1].parent is not None:
            lineage.append(lineage[-1].parent)
        return lineage[::-1]

    # -- calling -------------------------------------------------------------------------------

    async def call(
        self, spec: HandlerSpec, event: Notification, data: Data, executor: Executor | None
    ) -> Any:
        """Run ``spec`` through its middlewares: outer ones root first, then its router's
        inner ones. Exceptions propagate."""

        async def innermost(event: Notification, data: Data) -> Any:
            return await spec.invoke(event, data, executor)

        lineage = spec.router._lineage()
        chain = [mw for router in lineage for mw in router._outer] + spec.router._inner
        handler: NextHandler = innermost
        for middleware in reversed(chain):
            handler = functools.partial(_through, middleware, handler)
        return await handler(event, data)

    async def observe_error(
        self,
        spec: HandlerSpec,
        event: Notification,
        error: BaseException,
        data: Data,
        executor: Executor | None,
    ) -> list[tuple[str, Exception]]:
        """Tell the error observers from ``spec``'s router up to the root; returns the
        observers that failed themselves (they never hide the original error)."""
        failures: list[tuple[str, Exception]] = []
        observed = {**data, "error": error}
        for router in reversed(spec.router._lineage()):
            for observer in router._error_observers:
                try:
                    kwargs = observer.signature.arguments(
                        observed, observer.name, kind="error observer"
                    )
                    if _is_async(observer.func):
                        await observer.func(event, **kwargs)
                    else:
                        await run_in_thread(executor, observer.func, event, **kwargs)
                except Exception as exc:
                    failures.append((observer.name, exc))
        return failures

    @contextlib.asynccontextmanager
    async def resources(self) -> AsyncIterator[dict[str, Any]]:
        """Enter every ``@lifespan`` of this router tree; yields the dependencies they provide."""
        async with contextlib.AsyncExitStack() as stack:
            provided: dict[str, Any] = {}
            for router in self.walk():
                for factory in router._lifespans:
                    values = await stack.enter_async_context(factory())
                    provided.update(values or {})
            yield provided

    def missing_dependencies(self, available: set[str]) -> dict[str, list[str]]:
        """Handlers whose required parameters are not in ``available`` (middlewares may still
        supply them at call time)."""
        missing = {}
        for spec in self.handlers():
            names = [name for name in spec.signature.injected if name not in available]
            if names:
                missing[spec.name] = names
        return missing


async def _through(
    middleware: Middleware, handler: NextHandler, event: Notification, data: Data
) -> Any:
    return await _maybe_await(middleware(handler, event, data))


async def run_in_thread(
    executor: Executor | None, func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Run sync ``func`` in ``executor`` (the loop's default if ``None``), context vars included.

    If the awaiting task is cancelled (a timeout, a shutdown), the thread cannot be stopped: the
    cancellation is held until the thread returns, so nobody else starts the same job while this
    one is still running it.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    future = loop.run_in_executor(executor, functools.partial(context.run, func, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({future})
        if not future.cancelled():
            future.exception()  # retrieved, so asyncio does not log it as never retrieved
        raise


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _is_async(func: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    # An object whose __call__ is a coroutine function is an async handler too.
    return inspect.iscoroutinefunction(type(func).__call__)


def _default_name(func: Callable[..., Any]) -> str | None:
    qualname = getattr(func, "__qualname__", None)
    module = getattr(func, "__module__", None)
    if not qualname or not module or "<lambda>" in qualname:
        return None
    return f"{module}.{qualname}"


def _check_fields(
    handler: str, models: list[type[Notification]], field_filters: Mapping[str, Any]
) -> None:
    """A field filter must name a field of every model the handler takes (typos fail early)."""
    for model in models:
        if model is UnknownNotification or issubclass(model, UnknownNotification):
            continue
        known = set(model.model_fields)
        for field_name in field_filters:
            if field_name not in known:
                raise ConfigError(
                    f"handler {handler}: {model.__name__} has no field {field_name!r}"
                    f" (fields: {', '.join(sorted(known))})"
                )


_TYPE_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _future_type_name(handler_name: str, name: str) -> str:
    """A type name Market does not send today, for a handler waiting for it: it must read like
    Market's names; one a letter or two from a known type is most likely a typo, said loudly."""
    if not _TYPE_NAME.match(name):
        raise ConfigError(
            f"handler {handler_name}: {name!r} is not a notification type name (Market's are"
            " upper case, e.g. ORDER_CREATED)"
        )
    close = difflib.get_close_matches(name, KNOWN_TYPES, n=1, cutoff=0.9)
    if close:
        logger.warning(
            "handler %s: %s is not a type Market sends today (did you mean %s?); it runs only"
            " if Market adds that type",
            handler_name,
            name,
            close[0],
        )
    return name
