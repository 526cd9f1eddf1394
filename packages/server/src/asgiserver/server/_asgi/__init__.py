"""ASGI rules only: the HTTP and WebSocket cycles, scopes, response finishing and proxy rewriting.

Nothing here imports a protocol package or touches a transport. A cycle talks to a small stream
handle (`stream.py`) that a driver implements.
"""
