"""JSON schemas of what the portal API answers and accepts, for its OpenAPI document.

Answers are closed objects (``additionalProperties: false``): a member the document does not
name, such as a stored secret, fails the schemathesis conformance test instead of slipping out.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from uid2.store.records import MemberRole, ParticipantType, Role

Schema = dict[str, Any]

INT32: Schema = {"type": "integer", "minimum": -(1 << 31), "maximum": (1 << 31) - 1}
SITE_ID: Schema = {"type": "integer", "minimum": 1, "maximum": (1 << 31) - 1}
WHOLE: Schema = {"type": "integer", "minimum": 0}
TEXT: Schema = {"type": "string"}
FLAG: Schema = {"type": "boolean"}
EMAIL: Schema = {"type": "string", "format": "email", "maxLength": 254}
# What admin.validation.parse_name takes: 1-255 characters, not all blank.
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema, *, min_items: int = 0) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    return schema


def enum_of(values: type[Enum] | Sequence[Enum]) -> Schema:
    return {"type": "string", "enum": [v.value for v in values]}


def closed(properties: dict[str, Schema]) -> Schema:
    """An answer object: every member present, no other member."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def request_object(
    properties: dict[str, Schema], required: Sequence[str] = (), example: Schema | None = None
) -> Schema:
    """A request body; unknown members are ignored, so they are allowed."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if example is not None:
        schema["examples"] = [example]
    return schema


TYPES = array(enum_of(ParticipantType))
MEMBER_ROLE = enum_of(MemberRole)
# OPTOUT keys exist (the CLI makes them) but no participant may be given one in the portal.
GRANTABLE_ROLES = enum_of([r for r in Role if r is not Role.OPTOUT])

_SITE: dict[str, Schema] = {
    "site_id": SITE_ID,
    "name": TEXT,
    "types": TYPES,
    "domain_names": array(TEXT),
    "app_names": array(TEXT),
    "enabled": FLAG,
}
_API_KEY: dict[str, Schema] = {
    "key_id": TEXT,
    "site_id": SITE_ID,
    "name": TEXT,
    "roles": array(enum_of(Role)),
}
_USER: dict[str, Schema] = {
    "user_id": WHOLE,
    "email": TEXT,
    "platform_admin": FLAG,
    "pending": FLAG,
    "disabled": FLAG,
}
_KEYPAIR: dict[str, Schema] = {
    "subscription_id": TEXT,
    "site_id": SITE_ID,
    "name": TEXT,
    "public_key": TEXT,
}

COMPONENTS: dict[str, Schema] = {
    "Error": closed(
        {"error": closed({"status": {"type": "integer"}, "message": TEXT, "field": nullable(TEXT)})}
    ),
    "Site": closed(_SITE),
    "SiteDetail": closed({**_SITE, "allowed_roles": array(enum_of(Role))}),
    "ApiKey": closed({**_API_KEY, "disabled": FLAG}),
    "ApiKeyListed": closed({**_API_KEY, "disabled": FLAG, "created": WHOLE}),
    "CreatedApiKey": closed({**_API_KEY, "key": TEXT, "secret": TEXT}),
    "Keypair": closed({**_KEYPAIR, "created": WHOLE, "disabled": FLAG}),
    "CreatedKeypair": closed(_KEYPAIR),
    "User": closed(_USER),
    "Member": closed({**_USER, "role": MEMBER_ROLE}),
    "Invitation": closed({**_USER, "invite_link": nullable(TEXT)}),
    "Session": closed(
        {
            "user": ref("User"),
            "memberships": array(closed({"site_id": SITE_ID, "role": MEMBER_ROLE})),
            "csrf_token": TEXT,
            "expires_ms": WHOLE,
        }
    ),
    "SharingOverview": closed(
        {
            "has_keyset": FLAG,
            "allowed_sites": nullable(array(INT32)),
            "allowed_types": TYPES,
            "readers": nullable(array(INT32)),
            "recommended_types": TYPES,
        }
    ),
    "SharingResult": closed(
        {
            "keyset_id": INT32,
            "changed": FLAG,
            "allowed_sites": nullable(array(INT32)),
            "allowed_types": TYPES,
        }
    ),
    "AuditEntry": closed(
        {
            "seq": WHOLE,
            "at_ms": WHOLE,
            "actor": TEXT,
            "action": TEXT,
            "target": TEXT,
            "site_id": nullable(INT32),
            "details": {"type": "object"},
        }
    ),
    "Keysets": closed(
        {
            "keysets": array(
                closed(
                    {
                        "keyset_id": INT32,
                        "site_id": INT32,  # system keysets belong to negative site ids
                        "enabled": FLAG,
                        "default": FLAG,
                        "allowed_sites": nullable(array(INT32)),
                        "allowed_types": TYPES,
                        "key_ids": array(INT32),
                        "active_key_id": nullable(INT32),
                    }
                )
            ),
            "salts": closed(
                {
                    "bucket_count": WHOLE,
                    "bands": array(closed({"age": TEXT, "buckets": WHOLE})),
                    "newest_ms": nullable(WHOLE),
                    "oldest_ms": nullable(WHOLE),
                }
            ),
        }
    ),
    "KeyRotation": closed(
        {
            "rotated": array(
                closed({"keyset_id": INT32, "key_id": INT32, "activates": WHOLE, "expires": WHOLE})
            ),
            "skipped_keysets": array(INT32),
        }
    ),
    "SaltRotation": closed(
        {"rotated": WHOLE, "bucket_count": WHOLE, "skipped_reason": nullable(TEXT)}
    ),
    "OptOutLookup": closed({"opted_out": FLAG, "since": nullable(WHOLE)}),
}


# --- request bodies: each with an example the API accepts --------------------------------------

_SOME_TYPES = array(enum_of(ParticipantType), min_items=1)
_SOME_ROLES = array(GRANTABLE_ROLES, min_items=1)

CREATE_PARTICIPANT = request_object(
    {"name": NAME, "types": _SOME_TYPES},
    ["name", "types"],
    {"name": "Example Publisher", "types": ["publisher"]},
)
# Optional members read null as "not given".
EDIT_PARTICIPANT = request_object(
    {"name": nullable(NAME), "types": nullable(_SOME_TYPES), "enabled": nullable(FLAG)},
    example={"types": ["publisher"], "enabled": True},
)
CREATE_API_KEY = request_object(
    {"name": NAME, "roles": _SOME_ROLES},
    ["name", "roles"],
    {"name": "web backend", "roles": ["GENERATOR"]},
)
EDIT_API_KEY = request_object(
    {"name": nullable(NAME), "roles": nullable(_SOME_ROLES)}, example={"roles": ["SHARER"]}
)
CREATE_KEYPAIR = request_object({"name": nullable(NAME)}, example={"name": "news site"})
# Each entry a root-level domain, or a URL or host name reduced to one (the public suffix list
# decides, which a pattern cannot say).
DOMAINS = request_object(
    {"domain_names": array({"type": "string", "minLength": 1})},
    ["domain_names"],
    {"domain_names": ["example.com"]},
)
# What admin.validation.parse_app_name takes: an App Store id or a bundle / package id.
_APP_NAME = {
    "type": "string",
    "pattern": r"^\s*(?:[0-9]{1,20}|[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
    r"(?:\.[A-Za-z0-9][A-Za-z0-9_-]{0,99})+)\s*$",
}
APP_NAMES = request_object(
    {"app_names": array(_APP_NAME)}, ["app_names"], {"app_names": ["com.example.app"]}
)
SHARING = request_object(
    {
        "add_sites": array(INT32),
        "remove_sites": array(INT32),
        "types": nullable(TYPES),  # [] shares with no type
    },
    example={"add_sites": [], "remove_sites": [], "types": ["dsp"]},
)
INVITE = request_object(
    {"email": EMAIL, "role": MEMBER_ROLE},
    ["email", "role"],
    {"email": "new.member@example.com", "role": "operations"},
)
CHANGE_ROLE = request_object({"role": MEMBER_ROLE}, ["role"], {"role": "operations"})
ROTATE_KEYS = request_object({"force": FLAG}, example={"force": False})
ROTATE_SALTS = request_object(
    {"fraction": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "force": FLAG},
    example={"fraction": 0.01, "force": False},
)
_ANY_EMAIL = {"type": "string", "format": "email"}  # looked up whatever its length
_PHONE = {"type": "string", "pattern": r"^\+[0-9]{10,15}$"}  # what the operator normalises
OPTOUT_LOOKUP = {
    "type": "object",
    "required": ["identity_type", "identity"],
    "oneOf": [
        request_object({"identity_type": {"const": "email"}, "identity": _ANY_EMAIL}),
        request_object({"identity_type": {"const": "phone"}, "identity": _PHONE}),
    ],
    "examples": [{"identity_type": "email", "identity": "someone@example.com"}],
}
BEFORE_QUERY = {
    "name": "before",
    "in": "query",
    "required": False,
    "description": "only entries with a smaller seq (the next page)",
    "schema": {"type": "integer", "minimum": 0, "maximum": (1 << 63) - 1},
}
