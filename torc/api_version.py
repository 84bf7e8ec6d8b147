"""The one HTTP API version constant.

It feeds the server's ``GET /version`` answer, ``info.version`` of the emitted OpenAPI document,
the generated client's package version and the client/server compatibility check. Bump the major
part for incompatible contract changes, the minor part for additive ones.
"""

API_VERSION = "0.12.0"
