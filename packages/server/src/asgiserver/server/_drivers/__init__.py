"""Drivers: the only code that imports a protocol package (http1, uwsgi, ws, lifespan, h2adapter,
proxyproto).

A driver translates its package's events into the cycles' stream vocabulary and the cycles' calls into
its package's events. It does no I/O of its own: the connection (`_net`) gives it a `Sink`.
"""
