"""Who may do what: roles, scopes, principals and bearer tokens (L1, pure Python).

Nothing here touches a database or a web framework: the store keeps users and hashed
tokens (:mod:`medsight.store.accounts`), the services decide
(:mod:`medsight.services.accounts`), the server only asks.
"""

from medsight.access.roles import ROLE_SCOPES, Principal, Role, Scope
from medsight.access.tokens import TOKEN_PREFIX, IssuedSecret, hash_secret, new_secret, parse_duration, split_token

__all__ = [
    "ROLE_SCOPES",
    "TOKEN_PREFIX",
    "IssuedSecret",
    "Principal",
    "Role",
    "Scope",
    "hash_secret",
    "new_secret",
    "parse_duration",
    "split_token",
]
