"""The ``uid2`` command: the control plane's CLI, the SDK's tools and the composition root.

Only this package (and each service's ``create_app``) reads the environment. Commands live in
submodules by area; importing them registers them on the :data:`~uid2.cli.base.cli` group.
"""

from __future__ import annotations

from uid2.cli import accounts as accounts
from uid2.cli import control as control
from uid2.cli import pixel as pixel
from uid2.cli import serve as serve
from uid2.cli import tools as tools
from uid2.cli import up as up
from uid2.cli import webhooks as webhooks
from uid2.cli.base import cli


def main() -> None:
    cli(prog_name="uid2")
