"""tierbench show RUN: one stored run as a table, or its document as JSON."""
from bench.commands.run import report
from bench.store import Store

NAME = "show"
HELP = "show a stored run (table, or --json for the run document)"


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="run id, unique prefix, 'latest', or a run folder")
    p.add_argument("--results", metavar="DIR", help="results store")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    store = Store(args.results)
    doc = store.load(args.run)
    report(doc, args.json, store.root)
    return 0
