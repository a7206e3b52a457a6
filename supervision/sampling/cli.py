"""``flask supervision draw ...``: spot-check draw commands (redo a recorded draw).

``flask supervision draw redo 500000-2026-003`` recomputes a draw from its recorded seed,
parameters and population and prints ``identical`` or ``different`` and the sample;
``--population FILE`` (CSV or CSV.gz) and ``--params FILE`` (JSON) redo it from copies a
third party holds instead (e.g. downloaded from the public sample list, or written by
``flask supervision draw export``). The exit status is 0 when identical, 1 when different.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.extensions import db

draw_group = click.Group("draw", help="Spot-check draws (双随机).")


def _find(number: str):
    from supervision.models import Draw

    found = db.session.scalar(select(Draw).where(Draw.number == number.strip()))
    if found is None:
        raise click.ClickException(f"no draw numbered {number!r}")
    return found


@draw_group.command("redo")
@click.argument("number")
@click.option("--population", "population_file", type=click.Path(exists=True, dir_okay=False),
              help="a population CSV (plain or gzip'd) to redo the draw from")
@click.option("--params", "params_file", type=click.Path(exists=True, dir_okay=False),
              help="the draw parameters (JSON) to redo the draw with")
@with_appcontext
def redo(number: str, population_file: str | None, params_file: str | None) -> None:
    """Redo draw NUMBER and say whether the sample is identical to the stored one."""
    from supervision.sampling import operations as draws

    found = _find(number)
    population = params = None
    if population_file:
        try:
            population = draws.read_population(Path(population_file).read_bytes())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--population") from None
    if params_file:
        try:
            params = json.loads(Path(params_file).read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
        if not isinstance(params, dict):
            raise click.BadParameter("expected a JSON object", param_hint="--params")
    report = draws.redo_draw(found, population=population, params=params)
    db.session.rollback()
    click.echo("identical" if report.identical else "different")
    click.echo(f"draw:            {report.draw_number}")
    click.echo(f"recorded hash:   {report.recorded_hash}")
    click.echo(f"population hash: {report.population_hash or '-'}")
    if report.error:
        click.echo(f"error:           {report.error}")
    for label, ids in (("stored only", report.only_stored), ("redone only", report.only_redone)):
        if ids:
            click.echo(f"{label}:     {', '.join(map(str, ids))}")
    if report.order_differs:
        click.echo("order:           the same objects in another order")
    for change in report.changed:
        click.echo(f"changed:         declaration {change['id']} {change['field']}: "
                   f"stored {change['stored']}, redone {change['redone']}")
    if report.sample is not None:
        click.echo("position\tdeclaration\tstratum\treason\tpi")
        for position, row in enumerate(report.sample.itertuples(index=False), start=1):
            click.echo(f"{position}\t{row.id}\t{row.stratum}\t{row.reason}\t{row.pi!r}")
    if not report.identical:
        raise SystemExit(1)


@draw_group.command("export")
@click.argument("number")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="directory to write the files to")
@with_appcontext
def export(number: str, out_dir: str) -> None:
    """Write draw NUMBER's recorded population (CSV.gz) and parameters (JSON)."""
    found = _find(number)
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    population = target / f"population-{found.number}.csv.gz"
    params = target / f"params-{found.number}.json"
    population.write_bytes(found.population_csv_gz)
    params.write_text(json.dumps(found.params, ensure_ascii=False, indent=2), encoding="utf-8")
    db.session.rollback()
    click.echo(str(population))
    click.echo(str(params))
