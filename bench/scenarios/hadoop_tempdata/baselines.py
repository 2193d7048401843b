"""Where the cluster model's per-drive figures come from: the device baselines (rand-read-4k, seq-read-1m) of a
data tier, measured in the modelled run itself when it has them, else in the newest run of the store made on the
same machine class (bench.analysis.machines.same_machine_class) with the same tier (name, path and class), so that
a terasort run can be modelled after a separate baseline run. None found is a UserError naming the command
that measures them: a model without the drive's IOPS would be a model of nothing."""
from __future__ import annotations

from typing import Optional

from bench.analysis.machines import same_machine_class
from bench.core.errors import UserError
from bench.scenarios.hadoop_tempdata.cluster_model import ClusterParams, default_params, layout_demand, model
from bench.store.runs import Store

BASELINE = "rand-read-4k"       # the figure the model cannot do without (S_iops); seq-read-1m is optional


def has_baseline(doc: dict, tier: str) -> bool:
    """Whether the run measured `tier`'s random-read IOPS (a successful rand-read-4k case with an `iops`)."""
    return any(c.get("workload") == BASELINE and c.get("tier") == tier and not c.get("error")
               and (c.get("metrics") or {}).get("iops") is not None for c in doc.get("cases") or [])


def _tier(doc: dict, name: str) -> dict:
    return next((t for t in doc.get("tiers") or [] if t.get("name") == name), {})


def same_tier(a: dict, b: dict) -> bool:
    """Two runs' records of a tier are the same place: name, path and class agree."""
    return bool(a) and all(a.get(k) is not None and a.get(k) == b.get(k) for k in ("name", "path", "class"))


def _newest_first(store: Store, skip: str) -> list:
    docs = []
    for rid in store.run_ids():
        if rid == skip:
            continue
        try:
            docs.append(store.load(rid))
        except UserError:       # an unreadable run cannot supply figures; `tierbench list` names it
            continue
    return sorted(docs, key=lambda d: (d.get("started_at") or "", d.get("run_id") or ""), reverse=True)


def _how_to_measure(doc: dict, tier: str) -> str:
    t = _tier(doc, tier)
    spec = tier if t.get("emulated") else f"{tier}={t.get('path') or 'PATH'}:{t.get('class') or 'CLASS'}"
    return f"tierbench run --tier {spec} --workload rand-read-4k --workload seq-read-1m"


def find_baselines(store: Store, doc: dict, tiers) -> dict:
    """{tier: the run document whose device baselines supply it} for each data tier in `tiers`: `doc` itself if
    it measured them, else the newest run of `store` on the same machine class with that tier. UserError
    (exit 2) naming the command that measures them when no run has them."""
    out, others = {}, None
    for tier in tiers:
        if has_baseline(doc, tier):
            out[tier] = doc
            continue
        if others is None:
            others = _newest_first(store, doc.get("run_id"))
        found = next((d for d in others if has_baseline(d, tier) and same_tier(_tier(doc, tier), _tier(d, tier))
                      and same_machine_class(doc.get("machine"), d.get("machine"))), None)
        if found is None:
            raise UserError(f"model: no {BASELINE} measured on tier {tier} in run {doc.get('run_id')} nor in any "
                            f"run of {store.root} on this machine class with that tier: measure it with "
                            f"`{_how_to_measure(doc, tier)}`")
        out[tier] = found
    return out


def run_baselines(store: Store, doc: dict) -> dict:
    """{data tier: the run document supplying its device baselines} for every data tier the run's model uses
    (find_baselines over cluster_model.layout_demand): the one lookup of `model` and the HTML report."""
    return find_baselines(store, doc, sorted({data for data, _, _ in layout_demand(doc)}))


def baseline_lines(result: dict) -> list:
    """One line per data tier of a model result naming the run its device baselines came from: "this run" or
    "run RID (the newest on this machine class with tier T)"; shown by `model` and the HTML report."""
    lines = []
    for tier, rid in sorted({(l["data_tier"], l["baseline_run"]) for l in result["layouts"]}):
        where = "this run" if rid == result["run_id"] else \
            f"run {rid} (the newest on this machine class with tier {tier})"
        lines.append(f"device baselines of tier {tier}: {where}")
    return lines


def model_run(store: Store, ref: str, given: Optional[dict] = None, drive_class: Optional[str] = None) -> dict:
    """The cluster model of stored run `ref` (bench.scenarios.hadoop_tempdata.cluster_model.model) with the
    cluster parameters `given` ({name: value}) over the run's defaults, its data tiers' device baselines found by
    find_baselines."""
    doc = store.load(ref)
    given = dict(given or {})
    params = ClusterParams(**{**default_params(doc).__dict__, **given})
    return model(doc, params, set(given), baselines=run_baselines(store, doc), drive_class=drive_class)
