"""Command line: `python -m qa index|ask|serve ...`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings
from .distribution import DISTRIBUTION, missing_extra, package_version
from .errors import QAError, SettingsError, UsageError
from .models import Answer
from .questions import validate_question
from .shards import index_exists, index_folders
from .store import full_check

if TYPE_CHECKING:
    from .engine import QA


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    # `qa` when run as the installed command, `python -m qa` otherwise.
    prog = "qa" if Path(sys.argv[0]).name == "qa" else "python -m qa"
    parser = argparse.ArgumentParser(prog=prog, description="Offline question answering over your documents.")
    parser.add_argument("--version", action="version", version=f"qa ({DISTRIBUTION}) {package_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, help="index folder (default: index/, or QA_INDEX_DIR)")
    common.add_argument("--model", help="local sentence-transformers folder (default: the bundled all-MiniLM-L6-v2)")
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", parents=[common], help="index files and folders (incremental)")
    index.add_argument("paths", nargs="*", type=Path, help="files or folders to index")
    index.add_argument("--rebuild", action="store_true", help="discard the existing index and build it anew")
    index.add_argument("--stats", action="store_true", help="print the index's counts and settings as JSON")
    index.add_argument("--check", action="store_true",
                       help="check every page, the lexical index and every vector file (slow on a large index; start-up checks are O(1))")
    add_cluster_flags(index)

    ask = sub.add_parser("ask", parents=[common], help="answer questions from the index")
    ask.add_argument("questions", nargs="*", help="one or more questions, answered in turn as one conversation")
    ask.add_argument("--independent", action="store_true", help="answer each question on its own, not as one conversation")
    ask.add_argument("--file", type=Path, metavar="F",
                     help='JSON lines {"question": ..., "conversation": optional id} ("-": standard input); lines with the '
                     "same conversation id are one conversation, in order; a line without one stands alone")
    ask.add_argument("--json", action="store_true", help="one JSON object per line")
    ask.add_argument("--top-k", type=_checked("top_k"), help="passages to retrieve (default 5)")

    serve = sub.add_parser("serve", parents=[common], help="serve the chat (builds the index first if needed)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_checked("port"), help="port (default 7860)")
    serve.add_argument("--docs-dir", type=Path,
                       help="folder indexed when the index is missing or stale (default: seeds/ in a checkout, ./docs when installed)")
    add_cluster_flags(serve)
    serve.add_argument("--replicas", type=_checked("replicas"), help="Ray Serve replicas of the app (with --ray; default 1)")

    evaluate = sub.add_parser("eval", parents=[common], help="measure retrieval and answer quality on a BEIR folder")
    evaluate.add_argument("--data", type=Path, required=True, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    evaluate.add_argument("--limit", type=int, help="ask only the first N questions (of each question set)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    evaluate.add_argument("--report", type=Path,
                          help="write a Markdown report here, a confidence plot (.png) and per-question outcomes (.jsonl) beside it")
    evaluate.add_argument("--unanswerable", type=Path,
                          help="queries.jsonl of questions the corpus cannot answer; reports the share declined")
    evaluate.add_argument("--out-of-corpus", type=Path, nargs="+", metavar="PATH",
                          help="files/folders (e.g. seeds/) indexed alone in INDEX_DIR/out-of-corpus; "
                          "the data set's questions are asked against them and must be declined")
    evaluate.add_argument("--rebuild", action="store_true", help="discard the evaluation index and build it anew")
    evaluate.add_argument("--single-document", nargs="?", const=True, default=None, type=Path, metavar="FOLDER",
                          help="index each document alone (passages grouped by metadata.document, else title) and ask it "
                          "only its own questions; with FOLDER, each document is its own file there (<document>.<ext>)")
    evaluate.add_argument("--cross-document", action="store_true",
                          help="with --single-document: also ask each document's questions of the next document alone "
                          "(they must be declined; only where documents do not answer each other's questions)")
    evaluate.add_argument("--conversations", type=Path, metavar="FILE",
                          help="JSON lines of conversations (earlier user turns, a follow-up, its gold answers and passages) "
                          "asked turn by turn; `python -m qa.evaluation.conversation_set` builds one from SQuAD")

    calibrate = sub.add_parser("calibrate", help="fit the confidence and in-scope models on `qa eval --report` outcomes")
    calibrate.add_argument("outcomes", nargs="+", type=Path, metavar="OUTCOMES.jsonl",
                           help="per-question outcomes of `qa eval --report` runs, one setting (data set, mode) per file")
    calibrate.add_argument("--out", type=Path, required=True,
                           help="calibration file to write (the shipped one: qa/answering/calibration.json)")
    calibrate.add_argument("--out-of-scope-declined", type=float, default=0.95,
                           help="the abstain threshold declines this share of every setting's out-of-scope questions "
                           "on the training documents (default 0.95)")
    calibrate.add_argument("--json", action="store_true", help="print the held-out figures as one JSON object")

    sub.add_parser("settings", help="list every setting: its QA_* variable, current value, what it allows")

    feedback = sub.add_parser("feedback", help="the chat's thumbs up/down: export them as an eval set")
    feedback_sub = feedback.add_subparsers(dest="action", required=True)
    export = feedback_sub.add_parser("export", parents=[common], help="write the feedback as a BEIR folder for `qa eval --data`")
    export.add_argument("--out", type=Path, required=True, help="folder to write corpus.jsonl, queries.jsonl and qrels/test.tsv to")

    users = sub.add_parser("users", help="chat users for the optional sign-in")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="hash a password (asked for, or read from standard input) into a name:hash line")
    add.add_argument("name", help="the user's name (letters, digits and . _ @ + -)")
    add.add_argument("--file", type=Path, help="write the line to this users file (QA_CHAT_USERS_FILE), replacing the user's old one")
    return parser


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """`--ray ADDRESS`, `--workers W`, `--shards S`: past one machine (docs/scaling.md)."""
    parser.add_argument("--ray", dest="ray_address", metavar="local|auto|ADDRESS",
                        help="use a Ray cluster: local (start one here), auto (the one `ray start` runs here) or HOST:PORT "
                        "(QA_RAY_ADDRESS; needs the scale extra)")
    parser.add_argument("--workers", type=_checked("workers"), help="Ray workers (or worker processes), each with its own encoder")
    parser.add_argument("--shards", type=_checked("shards"), help="shards of a new index, each a normal index folder (default 1)")


def _checked(key: str):  # noqa: ANN202 - an argparse type function
    """An argparse type that converts a flag's value as the setting `key` does and checks its range."""

    def convert(raw: str) -> object:
        try:
            return Settings.from_env({}, **{key: raw}).values()[key]
        except SettingsError as error:
            raise argparse.ArgumentTypeError(str(error).split(" is not allowed: it ")[-1]) from None

    return convert


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from QA_* variables overridden by this command's flags."""
    flags = {
        name: getattr(args, name, None)
        for name in ("index_dir", "model", "top_k", "host", "port", "docs_dir", "ray_address", "workers", "shards", "replicas")
    }
    return Settings.from_env(**flags)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        if settings.cluster.ray_address and args.command in ("index", "serve"):
            from .cluster import require_ray

            require_ray()  # before the model loads: a missing extra is said at once
        if args.command == "index":
            return run_index(args, settings)
        if args.command == "ask":
            return run_ask(args, settings)
        if args.command == "eval":
            return run_eval(args, settings)
        if args.command == "settings":
            return run_settings(settings)
        if args.command == "feedback":
            return run_feedback_export(args, settings)
        if args.command == "users":
            return run_users_add(args)
        if args.command == "calibrate":
            return run_calibrate(args)
        from .web.server import serve

        serve(settings)
        return 0
    except QAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        # An indexing run keeps the batches it committed and says how many (IndexingInterrupted).
        print(f"interrupted: {stop}" if str(stop) else "interrupted", file=sys.stderr)
        return 130


def run_index(args: argparse.Namespace, settings: Settings) -> int:
    """`qa index`: update the index and print a summary."""
    from .engine import QA

    if not args.paths and not args.stats and not args.check:
        raise UsageError("name at least one file or folder to index, e.g. `python -m qa index seeds/`")
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if args.check and not args.rebuild:
        if not index_exists(settings.index_dir):
            raise UsageError(f"no index in {settings.index_dir}: build one with `python -m qa index seeds/`")
        # Needs no model: a damaged index is reported before anything loads or writes.
        print(json.dumps([full_check(folder, settings.lexical) for folder in index_folders(settings.index_dir)], indent=2))
        if not args.paths and not args.stats:
            return 0
    if args.rebuild:
        QA.remove_index(settings.index_dir)
    qa = QA(settings)
    if args.paths:
        # Bars on a terminal, plain lines in a log (CI, a cluster job): a long run is never silent.
        report = qa.index(args.paths, progress=True)
        for name, items in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
            for doc_id in items:
                print(f"{name:>9}  {doc_id}")
        for skipped in report.skipped:
            print(f"{'skipped':>9}  {skipped.source}: {skipped.reason}")
        print(report.summary())
    if args.stats:
        print(json.dumps(qa.stats(), indent=2, default=str))
    qa.close()
    return 0


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    """`qa ask`: answer each question, as text or JSON lines; one conversation unless told otherwise."""
    from .engine import QA

    if not index_exists(settings.index_dir):
        raise UsageError(f"no index in {settings.index_dir}: build one with `python -m qa index seeds/`")
    asked = read_question_file(args.file) if args.file else []
    if args.questions and args.file:
        raise UsageError("give questions as arguments or with --file, not both")
    if not asked and not args.questions:
        raise UsageError("ask at least one question, e.g. `python -m qa ask \"What happened on Nov. 15?\"`, or use --file F")
    if not args.file:
        # Arguments are one conversation, unless --independent.
        asked = [(question, None if args.independent else "") for question in args.questions]
    # Checked before the model loads, so a bad question fails at once and nothing is half-answered.
    for question, _ in asked:
        validate_question(question, settings.max_question_chars)
    qa = QA(settings)
    histories: dict[str, list[dict[str, str]]] = {}
    for question, conversation in asked:
        history = histories.setdefault(conversation, []) if conversation is not None else []
        answer = qa.ask(question, history, args.top_k)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else format_answer(answer), flush=True)
    return 0


def read_question_file(path: Path) -> list[tuple[str, str | None]]:
    """(question, conversation id or None) of each line of a `qa ask --file` JSON-lines file ("-": stdin)."""
    try:
        lines = sys.stdin.read().splitlines() if str(path) == "-" else path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    asked: list[tuple[str, str | None]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path} line {number}: not JSON ({error.msg})") from error
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise UsageError(f'{path} line {number}: expected {{"question": "...", "conversation": optional id}}')
        conversation = record.get("conversation")
        if conversation is not None and not isinstance(conversation, (str, int)):
            raise UsageError(f"{path} line {number}: conversation must be a string or a number")
        asked.append((record["question"], None if conversation is None else str(conversation)))
    if not asked:
        raise UsageError(f"{path} holds no question")
    return asked


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """`qa eval`: index a BEIR folder (reusing an up-to-date index), ask every question, print the figures."""
    from .evaluation import (
        default_eval_index,
        document_sets,
        evaluate,
        evaluate_documents,
        load_eval_set,
        read_conversations,
        read_queries,
        safe_name,
        write_report,
    )

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.cross_document and args.single_document is None:
        raise UsageError("--cross-document needs --single-document")
    # Checked before the long run, not at its end when the plot is drawn.
    if args.report and (missing := missing_extra("eval", "--report (its confidence plot)")):
        raise UsageError(missing)
    files = args.single_document if isinstance(args.single_document, Path) else None
    for path in [args.unanswerable, args.conversations, files, *(args.out_of_corpus or [])]:
        if path is not None and not path.exists():
            raise UsageError(f"no such file or folder: {path}")
    try:
        eval_set = load_eval_set(args.data)
        unanswerable = tuple(read_queries(args.unanswerable, eval_set.document_of)) if args.unanswerable else ()
        conversations = read_conversations(args.conversations, eval_set) if args.conversations else []
    except OSError as error:
        raise UsageError(str(error)) from error
    # Never the chat's own index (QA_INDEX_DIR): evaluation corpora stay out of it.
    index_dir = args.index_dir or default_eval_index(args.data)
    log = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))

    def progress(kind: str, done: int, total: int) -> None:
        if done % 250 == 0 or done == total or kind == "documents":
            log(f"{kind}: {done}/{total} asked")

    indexes = _EvalIndexes(settings, args.rebuild, log, sys.stderr.isatty() and not args.json)
    with indexes:
        if args.single_document is None:
            qa = indexes.open(index_dir, [eval_set.corpus])
            ooc_qa = indexes.open(index_dir / "out-of-corpus", args.out_of_corpus, False) if args.out_of_corpus else None
            result = evaluate(qa, eval_set, args.limit, unanswerable, ooc_qa, indexes.seconds, indexes.reused, progress, conversations)
        else:
            documents = document_sets(eval_set, unanswerable, files, index_dir / "single-corpora")
            if not documents:
                raise UsageError(f"no question of {args.data} belongs to a document (metadata.document, or its gold passage's title)")
            single = {d.name: indexes.open(index_dir / "single" / safe_name(d.name), [d.path]) for d in documents}
            ooc_qa = indexes.open(index_dir / "out-of-corpus", args.out_of_corpus, False) if args.out_of_corpus else None
            result = evaluate_documents(eval_set, documents, single, args.limit, ooc_qa, args.cross_document, indexes.seconds,
                                        indexes.reused, progress, conversations)
    if args.report:
        plot = write_report(result, args.report)
        log(f"report: {args.report} (plot {plot})")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        for key, value in result.to_dict().items():
            print(f"{key:>28}  {value}")
    return 0


class _EvalIndexes:
    """The indexes of one `qa eval` run, built or updated as they open, sharing one encoder, closed together."""

    def __init__(self, settings: Settings, rebuild: bool, log: Callable[[str], None], progress: bool) -> None:
        self.settings, self.rebuild, self.log, self.progress = settings, rebuild, log, progress
        self.opened: list[QA] = []
        self.seconds = 0.0
        self.reused = True

    def open(self, folder: Path, paths: Sequence[Path], of_the_data: bool = True) -> QA:
        """The index in `folder`, holding exactly `paths` (indexed incrementally); `seconds` and `reused`
        describe the data set's own indexes (`of_the_data`), not the out-of-corpus one."""
        from .engine import QA
        from .errors import ModelMismatchError

        if self.rebuild:
            QA.remove_index(folder)
        encoder = self.opened[0].encoder if self.opened else None
        try:
            qa = QA(self.settings.with_(index_dir=folder), encoder=encoder)
        except ModelMismatchError as error:
            raise UsageError(f"{error} For `qa eval`, add --rebuild.") from error
        self.opened.append(qa)
        self.log(f"indexing {', '.join(map(str, paths))} into {folder} ...")
        report = qa.index(paths, progress=self.progress)
        self.log(report.summary())
        if of_the_data:
            self.seconds += report.seconds
            self.reused = self.reused and not (report.added or report.updated or report.removed)
        return qa

    def __enter__(self) -> _EvalIndexes:
        return self

    def __exit__(self, *exc: object) -> None:
        for qa in self.opened:
            qa.close()


def run_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    """`qa feedback export`: the chat's feedback as an eval set (no model needed)."""
    from .feedback import export_from_index

    print(export_from_index(settings.index_dir, args.out).summary())
    return 0


def run_users_add(args: argparse.Namespace) -> int:
    """`qa users add NAME`: a `name:scrypt$...` line for QA_CHAT_USERS or a users file."""
    from .web.users import add_user

    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    line = add_user(args.name, password, args.file)
    print(f"{args.name} written to {args.file} (QA_CHAT_USERS_FILE={args.file})" if args.file else line)
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """`qa calibrate`: fit both heads on two thirds of the documents, write the file, print held-out figures."""
    if missing := missing_extra("eval", "qa calibrate (scikit-learn fits the models)"):
        raise UsageError(missing)
    missing_files = [str(p) for p in args.outcomes if not p.is_file()]
    if missing_files:
        raise UsageError(f"no such file: {', '.join(missing_files)}")
    if not 0 < args.out_of_scope_declined <= 1:
        raise UsageError("--out-of-scope-declined must be above 0 and at most 1")
    from .evaluation.calibrate import fit

    calibration, report = fit(args.outcomes, args.out_of_scope_declined)
    calibration["fitted"]["command"] = (
        f"qa calibrate {' '.join(map(str, args.outcomes))} --out {args.out} --out-of-scope-declined {args.out_of_scope_declined}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps({"abstain_threshold": calibration["abstain_threshold"], "held_out": report}))
    else:
        print(f"wrote {args.out}: abstain threshold {calibration['abstain_threshold']} "
              f"(held-out documents: {', '.join(calibration['fitted']['held_out_documents'])})")
        for setting, figures in report.items():
            print(f"{setting:>24}  " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


def run_settings(settings: Settings) -> int:
    """`qa settings`: every setting with its variable, current value and what it allows."""
    rows = settings.table()
    width = max(len(env) for env, *_ in rows)
    for env, value, allowed, help_text in rows:
        print(_printable(f"{env:<{width}}  {value}\n{'':<{width}}  {help_text}; {allowed}"))
    return 0


def format_answer(answer: Answer) -> str:
    """A readable answer with its numbered sources."""
    lines = [f"Q: {answer.question}", f"A: {answer.answer}"]
    if answer.short_answer:
        lines.append(f"   short answer: {answer.short_answer}")
    lines.append(f"   confidence: {answer.confidence:.2f}")
    for citation in answer.citations:
        page = f", page {citation.page}" if citation.page else ""
        cited = " (cited)" if citation.highlights else ""
        lines.append(f"  [{citation.n}] {citation.title} ({citation.source}{page}){cited}")
    return "\n".join(_printable(line) for line in lines) + "\n"


def _printable(text: str) -> str:
    """Control characters from documents shown as escapes, so they can't drive the terminal."""
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode() for c in text)
