"""``python -m policyqa_cli``: the command line, as the ``policyqa`` script runs it."""

from policyqa_cli import main

main()
