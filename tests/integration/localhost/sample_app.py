"""A small function app for the local host's tests: every trigger shape the host must serve."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

# Timer runs, as the host in the tests' process invoked them.
TICKS: list[dict] = []


@app.route(route="echo/{name}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "method": req.method,
        "url": req.url,
        "route": dict(req.route_params),
        "params": dict(req.params),
        "header": req.headers.get("x-sample"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json", status_code=201)


@app.route(route="items/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"id {req.route_params['id']}")


@app.route(route="items/latest", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item_latest(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("latest")


@app.route(route="files/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("path", ""), headers={"X-Kind": "file"})


@app.route(route="ops/reset", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
def ops_reset(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@app.route(methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def default_route(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(context.function_name)


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("user code failed")


@app.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    TICKS.append({"past_due": timer.past_due, "type": type(timer).__name__})
