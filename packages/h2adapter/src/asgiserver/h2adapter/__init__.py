"""HTTP/2 (RFC 9113) on the h2 library, speaking asgiserver's event vocabulary.

Not implemented yet: this distribution is a placeholder so the monorepo layout is complete.
"""

__all__: list[str] = []
