"""A real FastAPI application, served by asgiserver in the end-to-end tests."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield {"db": "connected"}


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item) -> dict:
    return {"name": item.name, "price_with_tax": round(item.price * 1.2, 2)}


@app.get("/state")
async def state(request: Request) -> dict:
    return {"db": request.state.db}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def numbers():
        for i in range(5):
            yield f"{i}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


async def trailers_app(scope, receive, send) -> None:
    """A raw ASGI endpoint mounted in the FastAPI app: a streamed body, then trailers."""
    await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
    for part in (b"a", b"b", b"c"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
    await send({"type": "http.response.trailers", "headers": [(b"x-digest", b"abc")]})


app.mount("/raw-trailers", trailers_app)
