"""Reading the official OpenAPI spec and comparing its schemas with the pydantic models.

``load_spec`` overlays the partial later commit on the full tree, as PROTOCOL.md says.
``ModelChecker`` walks a spec schema and a model side by side and returns one readable problem
per difference ("ORDER_CREATED.items[].count: spec minimum 1, model ge -9223372036854775808"),
minus the differences ``spec_relaxations`` documents.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from tests.protocol.spec_relaxations import (
    INTEGERS_ARE_INT64,
    OPEN_ENUMS,
    OPTIONAL_ACCEPTS_NULL,
    Relaxation,
)

SPEC_BASE = "yandex-market-notification-api@a7b53f9"
SPEC_OVERLAY = "yandex-market-notification-api@ff3e65c-partial"
SCHEMAS_DIR = Path("openapi", "components", "schemas")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Keywords this checker understands. Any other keyword in a schema is reported, so that a spec
# update adding a constraint (say ``maxItems``) cannot pass unnoticed.
_ANNOTATIONS = {"description", "example", "examples", "deprecated", "title"}
_KNOWN_KEYWORDS = _ANNOTATIONS | {
    "$ref",
    "type",
    "format",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "x-transform",
    "items",
    "minItems",
    "maxItems",
    "properties",
    "required",
    "nullable",
}


# -- the spec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The merged spec: schema files by name, and the ``POST /notification`` operation."""

    schemas: Mapping[str, Mapping[str, Any]]
    operation: Mapping[str, Any]

    def resolve(self, schema: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        """Follow ``$ref`` chains; return the last referenced schema's name and its body."""
        name = None
        seen: set[str] = set()
        while "$ref" in schema:
            name = ref_name(schema["$ref"])
            if name in seen:
                raise ValueError(f"$ref cycle through {name}")
            seen.add(name)
            schema = self.schemas[name]
        return name, schema

    def media_schema(self, content_owner: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The named JSON schema of a request body or response."""
        schema = content_owner["content"]["application/json"]["schema"]
        name, body = self.resolve(schema)
        assert name is not None, "request and response schemas are expected to be $refs"
        return name, body

    @property
    def request(self) -> tuple[str, Mapping[str, Any]]:
        return self.media_schema(self.operation["requestBody"])

    def response(self, status: str) -> tuple[str, Mapping[str, Any]]:
        return self.media_schema(self.operation["responses"][status])

    @property
    def discriminator(self) -> tuple[str, dict[str, str]]:
        """The discriminator property and ``{notification type: schema name}``."""
        _, request = self.request
        mapping = request["discriminator"]["mapping"]
        return request["discriminator"]["propertyName"], {
            kind: ref_name(target) for kind, target in mapping.items()
        }


def ref_name(ref: str) -> str:
    """``./ShopSku.yaml`` or ``../components/schemas/ShopSku.yaml`` → ``ShopSku``."""
    return Path(ref).name.removesuffix(".yaml")


def load_spec(spec_root: Path) -> Spec:
    """Load the a7b53f9 tree with the ff3e65c files laid over it."""
    files = {path.name: path for path in (spec_root / SPEC_BASE / SCHEMAS_DIR).glob("*.yaml")}
    files |= {path.name: path for path in (spec_root / SPEC_OVERLAY / SCHEMAS_DIR).glob("*.yaml")}
    schemas = {name.removesuffix(".yaml"): _read_yaml(path) for name, path in files.items()}
    openapi = spec_root / SPEC_BASE / "openapi"
    root = _read_yaml(openapi / "openapi.yaml")
    path_item = _read_yaml(openapi / root["paths"]["/notification"]["$ref"])
    return Spec(schemas=schemas, operation=path_item["post"])


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


# -- the model side ----------------------------------------------------------------------------


@dataclass
class FieldShape:
    """What a model field accepts, reduced to what the spec can say about a property."""

    kind: str  # int, str, bool, datetime, naive-datetime, list, model, enum, literal, other
    nullable: bool = False
    strict: bool = False
    bounds: dict[str, Any] = field(default_factory=dict)  # ge, le, gt, lt, min/max_length, pattern
    enum: type[enum.Enum] | None = None
    open_enum: bool = False
    model: type[BaseModel] | None = None
    item: FieldShape | None = None
    literal: tuple[Any, ...] = ()
    detail: str = ""


def describe(annotation: Any, metadata: Iterable[Any] = ()) -> FieldShape:
    """The ``FieldShape`` of a pydantic annotation plus the field's own metadata."""
    meta = list(_flatten(metadata))
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        meta.extend(_flatten(extra))
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        rest = [member for member in members if member is not type(None)]
        nullable = len(rest) < len(members)
        shape = describe(rest[0], meta) if len(rest) == 1 else _describe_union(rest, meta)
        shape.nullable = shape.nullable or nullable
        return shape
    if origin is typing.Literal:
        return FieldShape("literal", literal=typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return _with_meta(FieldShape("list", item=describe(item)), meta)
    return _with_meta(_describe_plain(annotation), meta)


def _describe_plain(annotation: Any) -> FieldShape:
    if annotation is AwareDatetime:
        return FieldShape("datetime")
    if not isinstance(annotation, type):
        return FieldShape("other", detail=repr(annotation))
    if issubclass(annotation, enum.Enum):
        return FieldShape("enum", enum=annotation)
    if issubclass(annotation, BaseModel):
        return FieldShape("model", model=annotation)
    if issubclass(annotation, datetime):
        return FieldShape("naive-datetime")
    for python_type, kind in ((bool, "bool"), (int, "int"), (str, "str")):
        if issubclass(annotation, python_type):
            return FieldShape(kind)
    return FieldShape("other", detail=annotation.__name__)


def _describe_union(members: Sequence[Any], meta: list[Any]) -> FieldShape:
    shapes = [describe(member) for member in members]
    kinds = sorted(shape.kind for shape in shapes)
    if kinds == ["enum", "str"]:
        enum_shape = next(shape for shape in shapes if shape.kind == "enum")
        text_shape = next(shape for shape in shapes if shape.kind == "str")
        return _with_meta(
            FieldShape("enum", enum=enum_shape.enum, open_enum=True, strict=text_shape.strict),
            meta,
        )
    return FieldShape("other", detail=" | ".join(kinds))


def _flatten(metadata: Iterable[Any]) -> Iterable[Any]:
    for item in metadata:
        if isinstance(item, FieldInfo):
            yield from _flatten(item.metadata)
        else:
            yield item


def _with_meta(shape: FieldShape, meta: Iterable[Any]) -> FieldShape:
    for item in meta:
        if isinstance(item, annotated_types.Ge):
            shape.bounds["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            shape.bounds["le"] = item.le
        elif isinstance(item, annotated_types.Gt):
            shape.bounds["gt"] = item.gt
        elif isinstance(item, annotated_types.Lt):
            shape.bounds["lt"] = item.lt
        elif isinstance(item, annotated_types.MinLen):
            shape.bounds["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            shape.bounds["max_length"] = item.max_length
        elif getattr(item, "strict", None) is True:
            shape.strict = True
        elif getattr(item, "pattern", None) is not None:
            shape.bounds["pattern"] = item.pattern
    return shape


# -- the comparison ----------------------------------------------------------------------------


@dataclass
class ModelChecker:
    """Compares spec schemas with models; collects problems and the relaxations it used."""

    spec: Spec
    relaxations: Sequence[Relaxation]
    enum_classes: Mapping[str, type[enum.Enum]]
    problems: list[str] = field(default_factory=list)
    used_targets: set[str] = field(default_factory=set)

    def check_notification(self, kind: str, model: type[BaseModel]) -> list[str]:
        """Problems of ``model`` against the schema the discriminator maps ``kind`` to."""
        self.problems = []
        discriminator, mapping = self.spec.discriminator
        schema_name = mapping[kind]
        _, request = self.spec.request
        # The envelope requires the discriminator of every type, PING's included.
        envelope_required = set(request.get("required", ()))
        self._check_object(
            kind,
            (kind, schema_name),
            self.spec.schemas[schema_name],
            model,
            extra_required=envelope_required,
            literal_field=(discriminator, kind),
        )
        return self.problems

    def check_enum_class(self, spec_name: str, enum_class: type[enum.Enum]) -> list[str]:
        """Problems of an enums class against the spec enum of that name."""
        self.problems = []
        _, schema = self.spec.resolve({"$ref": f"./{spec_name}.yaml"})
        self._check_enum_values(spec_name, spec_name, schema, enum_class)
        return self.problems

    # -- objects and properties ----------------------------------------------------------------

    def _check_object(
        self,
        path: str,
        owners: tuple[str, ...],
        schema: Mapping[str, Any],
        model: type[BaseModel],
        *,
        extra_required: Iterable[str] = (),
        literal_field: tuple[str, str] | None = None,
    ) -> None:
        self._check_keywords(
            path, schema, allowed=_ANNOTATIONS | {"type", "properties", "required"}
        )
        if model.model_config.get("extra") != "allow":
            self._problem(path, f"{model.__name__} drops unknown fields; Market adds fields")
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ())) | (set(extra_required) & set(properties))
        for missing in sorted(required - set(properties)):
            self._problem(f"{path}.{missing}", "required by the spec but not among its properties")
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        for wire_name in properties:
            if wire_name not in fields:
                self._problem(f"{path}.{wire_name}", f"in the spec, missing from {model.__name__}")
        for wire_name in fields:
            if wire_name not in properties:
                self._problem(f"{path}.{wire_name}", f"on {model.__name__}, not in the spec")
        for wire_name, prop in properties.items():
            info = fields.get(wire_name)
            if info is None:
                continue
            field_path = f"{path}.{wire_name}"
            ref, body = self.spec.resolve(prop)
            relax = self._relaxations([f"{owner}.{wire_name}" for owner in owners] + [ref or ""])
            shape = describe(info.annotation, info.metadata)
            self._check_presence(field_path, wire_name in required, info, shape, body, relax)
            if literal_field is not None and wire_name == literal_field[0]:
                self._check_discriminator(field_path, literal_field[1], body, shape)
            else:
                self._check_value(field_path, ref, body, shape, relax)

    def _check_presence(
        self,
        path: str,
        spec_required: bool,
        info: FieldInfo,
        shape: FieldShape,
        body: Mapping[str, Any],
        relax: Relaxation,
    ) -> None:
        expect_required = spec_required and not relax.optional
        if info.is_required() != expect_required:
            said = "required" if spec_required else "optional"
            model_said = "required" if info.is_required() else "optional"
            relaxed = " (relaxed to optional)" if relax.optional and spec_required else ""
            self._problem(path, f"spec {said}{relaxed}, model {model_said}")
        expect_nullable = bool(body.get("nullable")) or relax.nullable
        if shape.nullable and not expect_nullable and info.is_required():
            self._problem(path, "model accepts null, the spec does not say nullable")
        if shape.nullable and not expect_nullable and not info.is_required():
            self._rule_used(OPTIONAL_ACCEPTS_NULL.name)
        if expect_nullable and not shape.nullable:
            self._problem(path, "spec allows null, model refuses it")

    def _check_discriminator(
        self, path: str, kind: str, body: Mapping[str, Any], shape: FieldShape
    ) -> None:
        if kind not in body.get("enum", ()):
            self._problem(path, f"{kind} is not a value of the spec's enum")
        literal = tuple(str(value) for value in shape.literal)
        if shape.kind != "literal" or literal != (kind,):
            self._problem(path, f"model should accept exactly {kind!r}, accepts {shape}")

    def _check_value(
        self,
        path: str,
        ref: str | None,
        schema: Mapping[str, Any],
        shape: FieldShape,
        relax: Relaxation,
    ) -> None:
        self._check_keywords(path, schema)
        kind = schema.get("type")
        if "enum" in schema:
            self._check_enum(path, ref, schema, shape, relax)
        elif kind == "integer":
            self._check_integer(path, schema, shape)
        elif kind == "string":
            self._check_string(path, schema, shape, relax)
        elif kind == "array":
            self._check_array(path, schema, shape, relax)
        elif kind == "object" or "properties" in schema:
            if shape.kind != "model" or shape.model is None:
                self._problem(path, f"spec object, model {shape.kind} {shape.detail}".rstrip())
                return
            owners = (ref,) if ref else ()
            self._check_object(path, owners, schema, shape.model)
        else:
            self._problem(path, f"spec type {kind!r} is not checked by this test; extend it")

    def _check_integer(self, path: str, schema: Mapping[str, Any], shape: FieldShape) -> None:
        if shape.kind != "int":
            self._problem(path, f"spec integer, model {shape.kind} {shape.detail}".rstrip())
            return
        if not shape.strict:
            self._problem(path, "model coerces other JSON types to int (not strict)")
        number_format = schema.get("format")
        if number_format not in (None, "int64"):
            self._problem(path, f"spec format {number_format!r} is not checked by this test")
        if number_format is None:
            self._rule_used(INTEGERS_ARE_INT64.name)
        for spec_key, model_key, default in (
            ("minimum", "ge", INT64_MIN),
            ("maximum", "le", INT64_MAX),
        ):
            expected = schema.get(spec_key, default)
            actual = shape.bounds.get(model_key)
            if actual != expected:
                self._problem(path, f"spec {spec_key} {expected}, model {model_key} {actual}")
        for extra in ("gt", "lt"):
            if extra in shape.bounds:
                self._problem(path, f"model has {extra} {shape.bounds[extra]}, the spec does not")

    def _check_string(
        self, path: str, schema: Mapping[str, Any], shape: FieldShape, relax: Relaxation
    ) -> None:
        string_format = schema.get("format")
        if string_format == "date-time":
            if shape.kind != "datetime":
                self._problem(path, f"spec date-time with offset, model {shape.kind}")
            return
        if string_format is not None:
            self._problem(path, f"spec format {string_format!r} is not checked by this test")
        if shape.kind != "str":
            self._problem(path, f"spec string, model {shape.kind} {shape.detail}".rstrip())
            return
        if not shape.strict:
            self._problem(path, "model coerces other JSON types to str (not strict)")
        self._check_bounds(
            path,
            schema,
            shape,
            relax,
            (("minLength", "min_length"), ("maxLength", "max_length"), ("pattern", "pattern")),
        )
        if "x-transform" in schema and "x-transform" not in relax.unenforced:
            self._problem(path, f"spec x-transform {schema['x-transform']!r} is not applied")

    def _check_array(
        self, path: str, schema: Mapping[str, Any], shape: FieldShape, relax: Relaxation
    ) -> None:
        if shape.kind != "list" or shape.item is None:
            self._problem(path, f"spec array, model {shape.kind} {shape.detail}".rstrip())
            return
        self._check_bounds(
            path, schema, shape, relax, (("minItems", "min_length"), ("maxItems", "max_length"))
        )
        item_ref, item_schema = self.spec.resolve(schema["items"])
        item_relax = self._relaxations([item_ref or ""])
        self._check_value(f"{path}[]", item_ref, item_schema, shape.item, item_relax)

    def _check_bounds(
        self,
        path: str,
        schema: Mapping[str, Any],
        shape: FieldShape,
        relax: Relaxation,
        pairs: Iterable[tuple[str, str]],
    ) -> None:
        for spec_key, model_key in pairs:
            if spec_key in relax.unenforced:
                continue
            expected = schema.get(spec_key)
            actual = shape.bounds.get(model_key)
            if actual != expected:
                self._problem(path, f"spec {spec_key} {expected!r}, model {model_key} {actual!r}")

    # -- enums ---------------------------------------------------------------------------------

    def _check_enum(
        self,
        path: str,
        ref: str | None,
        schema: Mapping[str, Any],
        shape: FieldShape,
        relax: Relaxation,
    ) -> None:
        if schema.get("type") != "string":
            self._problem(path, f"spec enum of type {schema.get('type')!r} is not checked")
        expected_class = self.enum_classes.get(ref or "")
        if expected_class is None:
            self._problem(path, f"spec enum {ref or '(inline)'} has no enums class in the test")
            return
        if shape.kind != "enum" or shape.enum is None:
            self._problem(path, f"spec enum {ref}, model {shape.kind} {shape.detail}".rstrip())
            return
        if shape.enum is not expected_class:
            self._problem(
                path,
                f"spec enum {ref} is {expected_class.__name__}, model uses {shape.enum.__name__}",
            )
            return
        if not shape.open_enum:
            self._problem(path, f"{shape.enum.__name__} is closed; unknown values must be kept")
        elif not shape.strict:
            self._problem(path, "model coerces other JSON types to str (not strict)")
        else:
            self._rule_used(OPEN_ENUMS.name)
        self._check_enum_values(path, ref or "", schema, shape.enum, relax)

    def _check_enum_values(
        self,
        path: str,
        spec_name: str,
        schema: Mapping[str, Any],
        enum_class: type[enum.Enum],
        relax: Relaxation | None = None,
    ) -> None:
        relax = relax or self._relaxations([spec_name])
        if enum_class.__module__ != "ymnotify.protocol.enums":
            self._problem(path, f"{enum_class.__name__} is not in ymnotify.protocol.enums")
        spec_values = list(schema.get("enum", ()))
        already = sorted(set(relax.extra_values) & set(spec_values))
        if already:
            self._problem(path, f"now in the spec, drop from the relaxation: {', '.join(already)}")
        expected = set(spec_values) | set(relax.extra_values)
        actual = {member.value for member in enum_class}
        if expected - actual:
            missing = ", ".join(sorted(expected - actual))
            self._problem(path, f"{enum_class.__name__} lacks spec values: {missing}")
        if actual - expected:
            extra = ", ".join(sorted(actual - expected))
            self._problem(path, f"{enum_class.__name__} has values the spec lacks: {extra}")

    # -- bookkeeping ---------------------------------------------------------------------------

    def _check_keywords(
        self, path: str, schema: Mapping[str, Any], allowed: set[str] = _KNOWN_KEYWORDS
    ) -> None:
        for keyword in sorted(set(schema) - allowed):
            self._problem(path, f"spec keyword {keyword!r} is not checked by this test; extend it")

    def _relaxations(self, targets: Iterable[str]) -> Relaxation:
        """The relaxations of any of ``targets``, merged into one."""
        found = [relax for relax in self.relaxations if relax.target in set(targets)]
        for relax in found:
            self.used_targets.add(relax.target)
        return Relaxation(
            target="+".join(relax.target for relax in found),
            reason="; ".join(relax.reason for relax in found),
            optional=any(relax.optional for relax in found),
            nullable=any(relax.nullable for relax in found),
            unenforced=tuple(k for relax in found for k in relax.unenforced),
            extra_values=tuple(v for relax in found for v in relax.extra_values),
        )

    def _rule_used(self, name: str) -> None:
        self.used_targets.add(name)

    def _problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")
