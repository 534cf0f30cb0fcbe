"""URLs of the Django project behind peers/dot/start.py: DOT's own URLconf under /o/, as its
docs mount it (/o/token/, /o/introspect/, /o/revoke_token/, ...)."""

from django.urls import include, path

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
