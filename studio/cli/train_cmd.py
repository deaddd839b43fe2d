"""``studio train …``: train models with the studio's headless training engine.

    studio train demo-image [--out DIR] [--run-dir DIR] [--steps N] [--batch-size B] [--seed S]
    studio train demo-text  [--out DIR] [--run-dir DIR] [--steps N] [--batch-size B] [--seed S]

Building the parser imports nothing heavy; torch loads when a training command runs.
"""

from __future__ import annotations

import argparse

from studio.training.recipes import add_demo_image_arguments


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model with the studio's training engine")
    sub = train.add_subparsers(dest="train_command", metavar="RECIPE", parser_class=type(train))
    train.set_defaults(func=lambda args: (train.print_help(), 2)[1])
    demo = sub.add_parser("demo-image",
                          help="train the demo text-to-image model on the shapes data set")
    add_demo_image_arguments(demo)
    demo.set_defaults(func=run_demo_image)
    add_demo_text_parser(sub)


def run_demo_image(args: argparse.Namespace) -> int:
    from studio.training.recipes import demo_image

    return demo_image.run(args)


# -- demo-text (the language-model recipe; kept apart from the image recipe above) ---------------
def add_demo_text_parser(sub: argparse._SubParsersAction) -> None:
    from studio.training.recipes.demo_text import add_arguments  # light: torch loads in run()

    text = sub.add_parser("demo-text", help="train the demo language model (Llama architecture) on Shakespeare")
    add_arguments(text)
    text.set_defaults(func=run_demo_text)


def run_demo_text(args: argparse.Namespace) -> int:
    from studio.training.recipes import demo_text

    return demo_text.run(args)
