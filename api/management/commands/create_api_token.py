"""Issue an API token for a user and print it once (only its digest is stored)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.models import MAX_TOKEN_DAYS, TokenScope
from cases import services
from cases.audit import acting


class Command(BaseCommand):
    help = "Create a bearer token for a user. The token is printed once and cannot be shown again."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for, e.g. the integrating system.")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--days", type=int, default=90, help="Days until the token expires (default 90).")

    def handle(self, *args, username, name, scope, days, **options):
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise CommandError(f"--days {days}: a token must expire within 1 to {MAX_TOKEN_DAYS} days.")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        try:
            with acting(label="command:create_api_token"):
                token, secret = services.api_token_issue(user=user, name=name, scope=scope, days=days)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            f"Token {token.prefix}… for {username} ({token.get_scope_display()}), expires {token.expires_at:%Y-%m-%d}."
        )
        self.stdout.write("Store it now; it will not be shown again:")
        self.stdout.write(secret)
