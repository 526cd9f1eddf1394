"""A Starlette app served below a mount point (`--root-path /api`), with a mounted sub-application:
routing and `url_for` must agree with the scope's `root_path`, `path` and `raw_path`."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route


async def item(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "url_for": str(request.url_for("item", item_id=request.path_params["item_id"])),
            "url": str(request.url),
            "root_path": request.scope["root_path"],
            "path": request.scope["path"],
            "raw_path": request.scope["raw_path"].decode(),
        }
    )


async def sub(request: Request) -> JSONResponse:
    return JSONResponse({"url_for": str(request.url_for("sub:leaf", name="x"))})


app = Starlette(
    routes=[
        Route("/items/{item_id:int}", item, name="item"),
        Mount("/sub", routes=[Route("/leaf/{name}", sub, name="leaf")], name="sub"),
    ]
)
