"""A minimal Django project in one module with an async view, served by asgiserver in the tests."""

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()


async def hello(request):
    return JsonResponse({"method": request.method, "path": request.path, "q": request.GET.get("q")})


async def echo(request):
    return JsonResponse({"length": len(request.body), "body": request.body.decode()})


urlpatterns = [path("hello/", hello), path("echo/", echo)]

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
