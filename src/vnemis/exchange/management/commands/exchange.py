"""``vnemis exchange <sub-command> ...``: runs the management command ``exchange_<sub-command>``.

So ``vnemis exchange standard --out docs`` is ``vnemis exchange_standard --out docs``; every
exchange command added as ``exchange_<name>`` is reachable both ways without editing this file.
"""

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Exchange tools: vnemis exchange <command> ... / Công cụ trao đổi dữ liệu."

    def add_arguments(self, parser):
        parser.add_argument("command_name", metavar="command")
        parser.add_argument("rest", nargs="...", help="arguments of the command")

    def run_from_argv(self, argv):
        # argv: [prog, "exchange", <sub>, ...] → the sub-command's own parser handles the rest.
        if len(argv) < 3 or argv[2].startswith("-"):
            return super().run_from_argv(argv)
        name = f"exchange_{argv[2]}"
        if name not in get_commands():
            known = sorted(
                c[len("exchange_") :] for c in get_commands() if c.startswith("exchange_")
            )
            raise CommandError(
                f"Unknown exchange command {argv[2]!r}; known: {', '.join(known)}. "
                f"/ Không có lệnh {argv[2]!r}."
            )
        from django.core.management import load_command_class

        command = load_command_class(get_commands()[name], name)
        command.run_from_argv([argv[0], name, *argv[3:]])

    def handle(self, *args, command_name: str, rest: list[str], **options):
        call_command(f"exchange_{command_name}", *rest)
