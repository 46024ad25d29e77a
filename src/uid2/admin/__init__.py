"""uid2.admin: control-plane use cases shared by the CLI and the portal.

Each use case is a function ``(cmd, uow, ctx) -> result`` running one transaction that writes
an audit row and bumps the store versions it touches; it raises :class:`AdminError` (and
writes nothing) when it refuses. ``ctx`` carries ``now`` and the randomness, so tests fix both.
"""

from uid2.admin.apikeys import CreateApiKey as CreateApiKey
from uid2.admin.apikeys import CreatedApiKey as CreatedApiKey
from uid2.admin.apikeys import DisableApiKey as DisableApiKey
from uid2.admin.apikeys import RenameApiKey as RenameApiKey
from uid2.admin.apikeys import SetApiKeyRoles as SetApiKeyRoles
from uid2.admin.apikeys import api_key_matches as api_key_matches
from uid2.admin.apikeys import create_api_key as create_api_key
from uid2.admin.apikeys import disable_api_key as disable_api_key
from uid2.admin.apikeys import list_api_keys as list_api_keys
from uid2.admin.apikeys import rename_api_key as rename_api_key
from uid2.admin.apikeys import set_api_key_roles as set_api_key_roles
from uid2.admin.bootstrap import InitializeStore as InitializeStore
from uid2.admin.bootstrap import InitResult as InitResult
from uid2.admin.bootstrap import initialize_store as initialize_store
from uid2.admin.context import Context as Context
from uid2.admin.context import Entropy as Entropy
from uid2.admin.context import system_entropy as system_entropy
from uid2.admin.cstg import CreateCstgKeypair as CreateCstgKeypair
from uid2.admin.cstg import CreatedCstgKeypair as CreatedCstgKeypair
from uid2.admin.cstg import DisableCstgKeypair as DisableCstgKeypair
from uid2.admin.cstg import create_cstg_keypair as create_cstg_keypair
from uid2.admin.cstg import disable_cstg_keypair as disable_cstg_keypair
from uid2.admin.errors import AdminError as AdminError
from uid2.admin.errors import AdminErrorCode as AdminErrorCode
from uid2.admin.kek import rotate_kek as rotate_kek
from uid2.admin.keys import KeyRotationResult as KeyRotationResult
from uid2.admin.keys import RotateKeys as RotateKeys
from uid2.admin.keys import RotationPolicy as RotationPolicy
from uid2.admin.keys import rotate_keys as rotate_keys
from uid2.admin.optouts import RecordOptOut as RecordOptOut
from uid2.admin.optouts import record_optout as record_optout
from uid2.admin.participants import CreateParticipant as CreateParticipant
from uid2.admin.participants import SetAppNames as SetAppNames
from uid2.admin.participants import SetDomainNames as SetDomainNames
from uid2.admin.participants import SetParticipantEnabled as SetParticipantEnabled
from uid2.admin.participants import SetParticipantTypes as SetParticipantTypes
from uid2.admin.participants import create_participant as create_participant
from uid2.admin.participants import list_participants as list_participants
from uid2.admin.participants import set_app_names as set_app_names
from uid2.admin.participants import set_domain_names as set_domain_names
from uid2.admin.participants import set_participant_enabled as set_participant_enabled
from uid2.admin.participants import set_participant_types as set_participant_types
from uid2.admin.salts import RotateSalts as RotateSalts
from uid2.admin.salts import rotate_salts as rotate_salts
from uid2.admin.sharing import ChangeSharing as ChangeSharing
from uid2.admin.sharing import change_sharing as change_sharing
from uid2.admin.sharing import effective_allowed_sites as effective_allowed_sites
from uid2.admin.sharing import list_keysets as list_keysets
from uid2.admin.validation import parse_roles as parse_roles
from uid2.admin.validation import parse_type as parse_type
from uid2.store.records import ParticipantType as ParticipantType
from uid2.store.records import Role as Role

__all__ = [
    "AdminError",
    "AdminErrorCode",
    "ChangeSharing",
    "Context",
    "CreateApiKey",
    "CreateCstgKeypair",
    "CreateParticipant",
    "CreatedApiKey",
    "CreatedCstgKeypair",
    "DisableApiKey",
    "DisableCstgKeypair",
    "Entropy",
    "InitResult",
    "InitializeStore",
    "KeyRotationResult",
    "ParticipantType",
    "RecordOptOut",
    "RenameApiKey",
    "Role",
    "RotateKeys",
    "RotateSalts",
    "RotationPolicy",
    "SetApiKeyRoles",
    "SetAppNames",
    "SetDomainNames",
    "SetParticipantEnabled",
    "SetParticipantTypes",
    "api_key_matches",
    "change_sharing",
    "create_api_key",
    "create_cstg_keypair",
    "create_participant",
    "disable_api_key",
    "disable_cstg_keypair",
    "effective_allowed_sites",
    "initialize_store",
    "list_api_keys",
    "list_keysets",
    "list_participants",
    "parse_roles",
    "parse_type",
    "record_optout",
    "rename_api_key",
    "rotate_kek",
    "rotate_keys",
    "rotate_salts",
    "set_api_key_roles",
    "set_app_names",
    "set_domain_names",
    "set_participant_enabled",
    "set_participant_types",
    "system_entropy",
]
