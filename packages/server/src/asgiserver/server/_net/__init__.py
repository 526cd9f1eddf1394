"""asyncio only: the one connection class, write batching, and listening sockets. No protocol here:
a connection knows drivers only through `_drivers/base.py`."""
