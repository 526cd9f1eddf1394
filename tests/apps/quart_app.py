"""A real Quart application, served by asgiserver in the end-to-end tests."""

from quart import Quart, request, websocket

app = Quart(__name__)


@app.before_serving
async def startup() -> None:
    app.config["READY"] = "yes"


@app.route("/hello/<name>")
async def hello(name: str) -> dict[str, str]:
    return {"hello": name, "ready": app.config["READY"]}


@app.route("/echo", methods=["POST"])
async def echo() -> bytes:
    return await request.get_data()


@app.websocket("/ws")
async def ws() -> None:
    while True:
        message = await websocket.receive()
        await websocket.send(f"quart:{message}")
