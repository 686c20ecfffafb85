"""``baoxue deadletters``: the dead letters the consumers recorded (services/runtime/consumer_dlq.py), listed and
replayed through the consumer's own policy (deploy/README.md, *Dead letters*)."""

from __future__ import annotations

from typing import Optional

import typer

from devstack.catalog import SERVICES, service_consumers

app = typer.Typer(help="Dead letters of the consumers: list them, replay them through the consumer's policy.",
                  no_args_is_help=True)


def _consumer_services() -> list[str]:
    return [s for s in SERVICES if service_consumers(s)]


@app.command("list")
def list_letters(
    service: Optional[str] = typer.Argument(None, help="attendance | casework | notifications | reporting (default: all)"),
    replayed: bool = typer.Option(False, "--replayed", help="also the letters already replayed"),
    limit: int = typer.Option(200, min=1, help="At most this many per service, newest first"),
) -> None:
    """Lists dead letters (ids, source, reason, error; never the message's payload)."""
    from services.runtime.consumer_dlq import letter_rows
    from services.runtime.db import Database
    from services.runtime.settings import ServiceSettings

    chosen = [service] if service else _consumer_services()
    if service is not None and service not in _consumer_services():
        raise typer.BadParameter(f"{service!r} has no consumer (have: {', '.join(_consumer_services())})")
    url = ServiceSettings().database_url
    total = 0
    for name in chosen:
        db = Database(url, name, size=1)
        try:
            found = letter_rows(db, limit=limit, only_dead=not replayed)
        finally:
            db.close()
        total += len(found)
        for r in found:
            typer.echo(f"{name}\t#{r['id']}\t{r['consumer']}\t{r['status']}\t{r['reason']}\t"
                       f"{r['topic']}/{r['partition']}/{r['offset']}\tseq={r['sequence'] or '-'}\t"
                       f"{r['event_type'] or '-'}\t{r['subject'] or '-'}\tattempts={r['replay_attempts']}\t"
                       f"{r['dead_lettered_at']:%Y-%m-%d %H:%M:%S}\t{(r['error'] or '')[:160]}")
    if not total:
        typer.echo("无死信 (no dead letters)")


@app.command("replay")
def replay(
    service: str = typer.Argument(..., help="attendance | casework | notifications | reporting"),
    letter_id: Optional[int] = typer.Argument(None, help="The dead letter's id (from `deadletters list`)"),
    all_: bool = typer.Option(False, "--all", help="every dead letter of the consumer, oldest first"),
    consumer: Optional[str] = typer.Option(None, "--consumer", help="which consumer of the service (default: its only one)"),
) -> None:
    """Applies dead letters again through the consumer's own policy, each in one transaction that marks it replayed;
    a replayed letter is not applied twice, one that fails again stays dead with the new error (exit 1)."""
    if (letter_id is None) == (not all_):
        raise typer.BadParameter("give one dead letter id or --all (需要死信编号或 --all)")
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}")
    consumers = service_consumers(service)
    if not consumers:
        raise typer.BadParameter(f"{service} has no consumer")
    if consumer is None:
        if len(consumers) > 1:
            raise typer.BadParameter(f"{service} has several consumers: --consumer {' | '.join(consumers)}")
        consumer = next(iter(consumers))
    if consumer not in consumers:
        raise typer.BadParameter(f"{service} has no consumer {consumer!r} (has: {', '.join(consumers)})")
    spec = consumers[consumer]("deadletters")
    try:
        replayer = spec.replay()
        outcomes = replayer.replay_all() if all_ else [replayer.replay(letter_id)]  # type: ignore[arg-type]
    finally:
        spec.runtime.close()
    words = {"replayed": "已重放 (replayed)", "already_replayed": "此前已重放，未再执行 (already replayed: nothing done)",
             "failed": "重放失败，仍为死信 (failed, still dead)", "missing": "不存在 (no such dead letter)"}
    for o in outcomes:
        typer.echo(f"#{o.id}\t{words[o.outcome]}" + (f"\t{o.error[:300]}" if o.error else ""))
    if not outcomes:
        typer.echo("无待重放的死信 (nothing to replay)")
    if any(o.outcome in ("failed", "missing") for o in outcomes):
        raise typer.Exit(1)
